// tork's web page: polls the daemon's JSON API once a second and draws tables and uPlot charts.
// Plain DOM, no framework; every value from the API goes in through textContent (never as HTML).

const TOKEN_KEY = 'tork.apiToken';
const POLL_MS = 1000;
/** Points kept per chart: two minutes at one a second. */
const HISTORY = 120;
const COLORS = ['#2b7a4b', '#c2571a', '#2f5fb3', '#9b3fa6', '#b38f00', '#1b8a8f', '#a33', '#555'];

const $ = (id) => document.getElementById(id);
let selected = null;
let filesSignature = '';

// --- the API ----------------------------------------------------------------------------------

/** One API call with the token (if the page has one); a 401 asks for it. */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) {
    $('token-panel').hidden = false;
    throw new Error('the daemon wants its API token');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

// --- formatting -------------------------------------------------------------------------------

function bytes(value) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}
const rate = (value) => `${bytes(value)}/s`;

/** Writes only what changed: unchanged rows then cost no layout (200 paused torrents stay still). */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(label, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = label.toLowerCase();
  b.addEventListener('click', async (event) => {
    event.stopPropagation();
    b.disabled = true;
    try {
      await action();
      await refresh();
    } catch (error) {
      status(error.message, true);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : 'muted';
}

// --- charts -----------------------------------------------------------------------------------

/** A time-series chart: x is seconds since the epoch, one series per label. */
class Chart {
  constructor(element, labels, format) {
    this.element = element;
    this.labels = labels;
    this.data = [[], ...labels.map(() => [])];
    const series = [
      {},
      ...labels.map((label, index) => ({ label, stroke: COLORS[index % COLORS.length], width: 2 })),
    ];
    const axes = [{}, { size: 70, values: (_u, ticks) => ticks.map(format) }];
    this.plot = new globalThis.uPlot(
      {
        width: this.width(),
        height: 170,
        series,
        axes,
        scales: { x: { time: true } },
        legend: { live: false },
      },
      this.data,
      element,
    );
  }
  width() {
    return Math.max(300, this.element.clientWidth - 4);
  }
  push(time, values) {
    this.data[0].push(time);
    values.forEach((value, index) => {
      this.data[index + 1].push(value);
    });
    if (this.data[0].length > HISTORY) for (const column of this.data) column.shift();
    this.plot.setData(this.data);
  }
  resize() {
    this.plot.setSize({ width: this.width(), height: 170 });
  }
  destroy() {
    this.plot.destroy();
  }
}

const charts = { rate: null, load: null, lag: null };
let previousThreads = null;

function sameLabels(chart, labels) {
  return chart && chart.labels.join() === labels.join();
}

function chartSession(session, time) {
  charts.rate ??= new Chart($('chart-rate'), ['down', 'up'], rate);
  charts.rate.push(time, [session.downloadRate, session.uploadRate]);
}

function chartThreads(sample) {
  const time = sample.time / 1000;
  const names = sample.threads.map((thread) => thread.name);
  const lagLabels = ['main', ...names];
  if (!sameLabels(charts.lag, lagLabels)) {
    charts.lag?.destroy();
    charts.lag = new Chart($('chart-lag'), lagLabels, (ms) => `${ms.toFixed(1)} ms`);
  }
  charts.lag.push(time, [
    sample.main.eventLoopLagMs,
    ...sample.threads.map((thread) => thread.eventLoopLagMs),
  ]);
  if (!sameLabels(charts.load, names)) {
    charts.load?.destroy();
    charts.load = new Chart($('chart-load'), names, (value) => `${Math.round(value)}/s`);
  }
  // Messages a second crossing to and from each thread: commands in, events out.
  const seconds = previousThreads ? (sample.time - previousThreads.time) / 1000 : 0;
  charts.load.push(
    time,
    sample.threads.map((thread, index) => {
      const before = previousThreads?.threads[index];
      if (!before || seconds <= 0) return 0;
      return Math.max(0, thread.commands + thread.events - before.commands - before.events) / seconds;
    }),
  );
  previousThreads = sample;
}

window.addEventListener('resize', () => {
  for (const chart of Object.values(charts)) chart?.resize();
});

// --- tables -----------------------------------------------------------------------------------

const rows = new Map();

function torrentRow(torrent) {
  let row = rows.get(torrent.id);
  if (!row) {
    const tr = document.createElement('tr');
    tr.dataset.id = torrent.id;
    tr.addEventListener('click', () => select(torrent.id));
    const name = cell('', 'name');
    const progress = document.createElement('td');
    const bar = document.createElement('span');
    bar.className = 'bar';
    const fill = document.createElement('span');
    bar.append(fill);
    const pct = document.createElement('span');
    pct.className = 'pct';
    progress.append(bar, pct);
    const state = cell('');
    const down = cell('', 'num');
    const up = cell('', 'num');
    const peers = cell('', 'num');
    const actions = document.createElement('td');
    actions.className = 'actions';
    const pause = button('Pause', () => api(`/api/v1/torrents/${torrent.id}/pause`, { method: 'POST' }));
    const resume = button('Resume', () => api(`/api/v1/torrents/${torrent.id}/resume`, { method: 'POST' }));
    const remove = button('Remove', async () => {
      // Deselected first: a detail poll started after the click would ask for a removed torrent.
      if (selected === torrent.id) select(null);
      await api(`/api/v1/torrents/${torrent.id}`, { method: 'DELETE' });
    });
    actions.append(pause, resume, remove);
    tr.append(name, progress, state, down, up, peers, actions);
    $('torrents').tBodies[0].append(tr);
    row = { tr, name, fill, pct, state, down, up, peers, pause, resume };
    rows.set(torrent.id, row);
  }
  setText(row.name, torrent.name);
  if (row.name.title !== torrent.id) row.name.title = torrent.id;
  const percent = (torrent.progress * 100).toFixed(1);
  if (row.fill.style.width !== `${percent}%`) row.fill.style.width = `${percent}%`;
  setText(row.pct, `${percent} %`);
  setText(row.state, torrent.error ? `${torrent.state}: ${torrent.error.message}` : torrent.state);
  setText(row.down, rate(torrent.downloadRate));
  setText(row.up, rate(torrent.uploadRate));
  setText(row.peers, String(torrent.peers));
  if (row.pause.hidden !== torrent.paused) row.pause.hidden = torrent.paused;
  if (row.resume.hidden === torrent.paused) row.resume.hidden = !torrent.paused;
  row.tr.classList.toggle('selected', torrent.id === selected);
}

function showTorrents(list) {
  const seen = new Set(list.torrents.map((torrent) => torrent.id));
  for (const [id, row] of rows)
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  for (const torrent of list.torrents) torrentRow(torrent);
  $('no-torrents').hidden = list.torrents.length > 0;
  if (selected !== null && !seen.has(selected)) select(null);
  else if (selected === null && list.torrents.length === 1) select(list.torrents[0].id);
}

function select(id) {
  selected = id;
  filesSignature = '';
  $('detail').hidden = id === null;
  for (const [rowId, row] of rows) row.tr.classList.toggle('selected', rowId === id);
  if (id !== null) void refreshDetail();
}

function showFiles(detail) {
  const signature = JSON.stringify([detail.id, detail.files]);
  if (signature === filesSignature) return;
  filesSignature = signature;
  const priorities = detail.files.map((file) => file.priority);
  const body = $('files').tBodies[0];
  body.replaceChildren(
    ...detail.files.map((file) => {
      const tr = document.createElement('tr');
      tr.dataset.index = String(file.index);
      tr.classList.toggle('skipped', file.priority === 'skip');
      const want = document.createElement('td');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = file.priority !== 'skip';
      box.setAttribute('aria-label', `download ${file.path}`);
      box.addEventListener('change', async () => {
        const next = [...priorities];
        next[file.index] = box.checked ? 'normal' : 'skip';
        box.disabled = true;
        try {
          await api(`/api/v1/torrents/${detail.id}/files`, {
            method: 'PUT',
            body: JSON.stringify({ priorities: next }),
          });
          await refreshDetail();
        } catch (error) {
          box.checked = !box.checked;
          status(error.message, true);
        } finally {
          box.disabled = false;
        }
      });
      want.append(box);
      tr.append(want, cell(file.path), cell(bytes(file.length), 'num'), cell(file.priority, 'priority'));
      return tr;
    }),
  );
}

function showPeers(detail) {
  const peers = [...detail.peerList].sort((a, b) => b.downloadRate - a.downloadRate);
  $('peers').tBodies[0].replaceChildren(
    ...peers.map((peer) => {
      const tr = document.createElement('tr');
      tr.dataset.address = peer.address;
      tr.append(
        cell(peer.address),
        cell(peer.client),
        // `none`: a plain BitTorrent connection; otherwise what the MSE handshake chose.
        cell(peer.encryption === 'none' ? peer.transport : `${peer.transport} · MSE ${peer.encryption}`),
        cell(rate(peer.downloadRate), 'num'),
        cell(rate(peer.uploadRate), 'num'),
        cell(String(peer.queueDepth), 'num'),
        cell(peer.thread === null ? '–' : `peer-host-${peer.thread}`, 'num thread'),
      );
      return tr;
    }),
  );
}

async function refreshDetail() {
  if (selected === null) return;
  const id = selected;
  const detail = await api(`/api/v1/torrents/${id}`);
  if (id !== selected) return;
  $('detail-name').textContent = detail.name;
  showFiles(detail);
  showPeers(detail);
}

// --- adding -----------------------------------------------------------------------------------

/** An ArrayBuffer as base64 (btoa takes a binary string; built in chunks to spare the stack). */
function base64(buffer) {
  const data = new Uint8Array(buffer);
  let text = '';
  for (let at = 0; at < data.length; at += 0x8000)
    text += String.fromCharCode(...data.subarray(at, at + 0x8000));
  return btoa(text);
}

$('add-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('add-error').textContent = '';
  const magnet = $('magnet').value.trim();
  const file = $('torrent-file').files[0];
  try {
    let body;
    if (magnet !== '') body = { magnet };
    else if (file) body = { metainfo: base64(await file.arrayBuffer()) };
    else throw new Error('give a magnet link or choose a .torrent file');
    const added = await api('/api/v1/torrents', { method: 'POST', body: JSON.stringify(body) });
    $('add-form').reset();
    await refresh();
    select(added.id);
  } catch (error) {
    $('add-error').textContent = error.message;
  }
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token-input').value);
  $('token-input').value = '';
  $('token-panel').hidden = true;
  void refresh();
});

// --- the loop ---------------------------------------------------------------------------------

async function refresh() {
  const time = Date.now() / 1000;
  const [session, list, threads] = await Promise.all([
    api('/api/v1/session'),
    api('/api/v1/torrents'),
    api('/api/v1/threads'),
  ]);
  $('session').textContent =
    `${session.version} · ${session.torrents} torrents · ↓ ${rate(session.downloadRate)} · ↑ ${rate(session.uploadRate)} · peer port ${session.peerPort}`;
  showTorrents(list);
  chartSession(session, time);
  chartThreads(threads);
  await refreshDetail();
  status(`updated ${new Date().toLocaleTimeString()}`);
}

async function loop() {
  try {
    await refresh();
  } catch (error) {
    status(error.message, true);
  }
  setTimeout(loop, POLL_MS);
}

// uPlot is a classic deferred script: it has run before this module (modules are deferred too, in order).
void loop();
