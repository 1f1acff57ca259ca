import { PEER_PID_BASE, THREADS_PID, TorkError, TorkErrorCode } from '@tork/core';
import * as z from 'zod';

/** What `tork trace-summary` reads: the JSON object form of the Trace Event format, as tork writes it. */
export const TraceFileInput = z.object({
  traceEvents: z.array(
    z.object({
      ph: z.string(),
      name: z.string(),
      ts: z.number(),
      dur: z.number().optional(),
      pid: z.number(),
      tid: z.number(),
      id: z.string().optional(),
      args: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  otherData: z
    .object({ droppedEvents: z.number().optional(), maxEvents: z.number().optional() })
    .loose()
    .optional(),
});
export type TraceFileInput = z.infer<typeof TraceFileInput>;

export interface ThreadSummary {
  readonly name: string;
  /** Mean and highest busy share sampled, percent; null when the thread did not report it. */
  readonly busyPercent: number | null;
  readonly busyMaxPercent: number | null;
  readonly lagMaxMs: number | null;
  /** Event batches this host sent to the coordinator, with their queueing delay. */
  readonly eventBatches: number;
  readonly queueMeanMs: number | null;
  readonly queueMaxMs: number | null;
  /** Longest wait of a command batch for this host before it was read, ms (hosts only). */
  readonly commandQueueMaxMs: number | null;
  /** Command batches the coordinator posted (coordinator only). */
  readonly commandBatches: number;
}

export interface PeerSummary {
  readonly name: string;
  /** Seconds from the handshake to the disconnect (or the end of the trace). */
  readonly connectedSeconds: number;
  readonly downloadedBytes: number;
  /** Bytes per second while connected. */
  readonly throughput: number;
  /** Request→block latency, mean of the samples with requests outstanding (estimated), ms. */
  readonly latencyMs: number | null;
  readonly chokedSeconds: number;
  readonly snubbedSeconds: number;
  readonly piecesVerified: number;
  readonly disconnect: string | null;
  /** Why it is slow, plain words (empty: nothing stands out). */
  readonly reasons: string[];
}

export interface TraceSummary {
  readonly seconds: number;
  readonly events: number;
  readonly droppedEvents: number;
  readonly threads: ThreadSummary[];
  /** Peers that sent data or were given pieces, slowest first. */
  readonly slowestPeers: PeerSummary[];
  readonly peers: number;
  /** Time from 99 % of the pieces verified (of those fetched in the trace) to the last one. */
  readonly lastPercent: {
    readonly seconds: number;
    readonly pieces: Array<{ index: number; peer: string; seconds: number; endgame: boolean }>;
  } | null;
}

/** Most peers and tail pieces a summary lists. */
const LISTED = 10;

/** Reads a trace file's JSON (TORK_ERR_USAGE if it is not one) and answers where the time went. */
export function summarizeTrace(value: unknown): TraceSummary {
  const parsed = TraceFileInput.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TorkError(
      TorkErrorCode.USAGE,
      `not a trace: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const events = parsed.data.traceEvents;
  const timed = events.filter((event) => event.ph !== 'M');
  const start = Math.min(...timed.map((event) => event.ts));
  const end = Math.max(...timed.map((event) => event.ts + (event.dur ?? 0)));
  const names = new Map<string, string>();
  for (const event of events) {
    if (event.ph !== 'M') continue;
    const name = typeof event.args?.name === 'string' ? event.args.name : undefined;
    if (name === undefined) continue;
    if (event.name === 'process_name') names.set(`${event.pid}`, name);
    if (event.name === 'thread_name') names.set(`${event.pid}/${event.tid}`, name);
  }
  return {
    seconds: timed.length > 0 ? (end - start) / 1e6 : 0,
    events: events.length,
    droppedEvents: parsed.data.otherData?.droppedEvents ?? 0,
    threads: threadSummaries(events, names),
    ...peerSummaries(events, names, timed.length > 0 ? end : 0),
  };
}

type Event = TraceFileInput['traceEvents'][number];

function threadSummaries(events: readonly Event[], names: Map<string, string>): ThreadSummary[] {
  const tids = new Set<number>();
  for (const event of events) if (event.pid === THREADS_PID) tids.add(event.tid);
  return [...tids]
    .sort((a, b) => a - b)
    .map((tid) => {
      const mine = events.filter((event) => event.pid === THREADS_PID && event.tid === tid);
      const busy = numbers(
        mine.filter((event) => event.ph === 'C'),
        'busyPercent',
      );
      const lag = numbers(
        mine.filter((event) => event.ph === 'C'),
        'lagMaxMs',
      );
      const batches = mine.filter((event) => event.ph === 'X' && event.name === 'events → coordinator');
      const queue = numbers(batches, 'queueMs');
      const commandQueue = numbers(
        mine.filter((event) => event.ph === 'C'),
        'commandQueueMaxMs',
      );
      return {
        name: names.get(`${THREADS_PID}/${tid}`) ?? `thread ${tid}`,
        busyPercent: busy.length > 0 ? round(mean(busy)) : null,
        busyMaxPercent: busy.length > 0 ? round(Math.max(...busy)) : null,
        lagMaxMs: lag.length > 0 ? round(Math.max(...lag)) : null,
        eventBatches: batches.length,
        queueMeanMs: queue.length > 0 ? round(mean(queue)) : null,
        queueMaxMs: queue.length > 0 ? round(Math.max(...queue)) : null,
        commandQueueMaxMs: commandQueue.length > 0 ? round(Math.max(...commandQueue)) : null,
        commandBatches: mine.filter((event) => event.ph === 'i' && event.name.startsWith('commands →'))
          .length,
      };
    });
}

function peerSummaries(
  events: readonly Event[],
  names: Map<string, string>,
  end: number,
): Pick<TraceSummary, 'slowestPeers' | 'peers' | 'lastPercent'> {
  const byPid = new Map<number, Event[]>();
  for (const event of events) {
    if (event.pid < PEER_PID_BASE || event.ph === 'M') continue;
    let list = byPid.get(event.pid);
    if (!list) {
      list = [];
      byPid.set(event.pid, list);
    }
    list.push(event);
  }
  const verified: Array<{ index: number; pid: number; at: number; seconds: number; endgame: boolean }> = [];
  const peers: PeerSummary[] = [];
  for (const [pid, mine] of byPid) {
    const name = names.get(`${pid}`) ?? `peer ${pid - PEER_PID_BASE}`;
    const handshake = mine.find((event) => event.ph === 'X' && event.name === 'connect + handshake');
    const disconnect = mine.find((event) => event.ph === 'i' && event.name === 'disconnect');
    const connectedFrom = handshake ? handshake.ts + (handshake.dur ?? 0) : undefined;
    const connectedTo = disconnect?.ts ?? end;
    const requests = mine.filter((event) => event.ph === 'C' && event.name === 'requests');
    const counted = Math.max(0, ...numbers(requests, 'downloaded'));
    const latencies = requests
      .filter((event) => Number(event.args?.queueDepth) > 0 && Number(event.args?.latencyMs) > 0)
      .map((event) => Number(event.args?.latencyMs));
    const spanSeconds = (label: string) =>
      mine
        .filter((event) => event.ph === 'X' && event.name === label)
        .reduce((sum, event) => sum + (event.dur ?? 0), 0) / 1e6;
    const begins = new Map<string, Event>();
    let piecesVerified = 0;
    let verifiedBytes = 0;
    for (const event of mine) {
      if (event.ph === 'b' && event.id !== undefined) begins.set(event.id, event);
      if (event.ph !== 'e' || event.id === undefined) continue;
      const begin = begins.get(event.id);
      if (begin?.args?.result !== 'verified') continue;
      piecesVerified++;
      verifiedBytes += Number(begin.args.bytes) || 0;
      verified.push({
        index: Number(begin.args.index),
        pid,
        at: event.ts,
        seconds: (event.ts - begin.ts) / 1e6,
        endgame: begin.args.endgame === true,
      });
    }
    // The counters come once a second; a short connection is measured by its verified pieces.
    const downloaded = Math.max(counted, verifiedBytes);
    const connectedSeconds =
      connectedFrom !== undefined ? Math.max(0, (connectedTo - connectedFrom) / 1e6) : 0;
    if (downloaded === 0 && piecesVerified === 0 && !mine.some((event) => event.ph === 'b')) continue;
    const reason = disconnect?.args?.reason;
    peers.push({
      name,
      connectedSeconds: round(connectedSeconds),
      downloadedBytes: downloaded,
      throughput: connectedSeconds > 0 ? Math.round(downloaded / connectedSeconds) : 0,
      latencyMs: latencies.length > 0 ? Math.round(mean(latencies)) : null,
      chokedSeconds: round(spanSeconds('choked')),
      snubbedSeconds: round(spanSeconds('snubbed')),
      piecesVerified,
      disconnect: typeof reason === 'string' ? reason : null,
      reasons: [],
    });
  }
  const medianThroughput = median(peers.map((peer) => peer.throughput));
  const medianLatency = median(peers.flatMap((peer) => (peer.latencyMs !== null ? [peer.latencyMs] : [])));
  for (const peer of peers) {
    if (medianThroughput > 0 && peer.throughput < medianThroughput / 2)
      peer.reasons.push(`low throughput (${rate(peer.throughput)}, median ${rate(medianThroughput)})`);
    if (peer.latencyMs !== null && medianLatency > 0 && peer.latencyMs > 2 * medianLatency)
      peer.reasons.push(`long request latency (${peer.latencyMs} ms, median ${medianLatency} ms)`);
    if (peer.connectedSeconds > 0 && peer.chokedSeconds > peer.connectedSeconds / 4)
      peer.reasons.push(
        `choked us ${Math.round((100 * peer.chokedSeconds) / peer.connectedSeconds)} % of the time`,
      );
    if (peer.snubbedSeconds > 0) peer.reasons.push(`snubbed ${peer.snubbedSeconds} s`);
  }
  const slowest = [...peers].sort((a, b) => a.throughput - b.throughput).slice(0, LISTED);
  return { slowestPeers: slowest, peers: peers.length, lastPercent: lastPercent(verified, names) };
}

function lastPercent(
  verified: Array<{ index: number; pid: number; at: number; seconds: number; endgame: boolean }>,
  names: Map<string, string>,
): TraceSummary['lastPercent'] {
  if (verified.length === 0) return null;
  verified.sort((a, b) => a.at - b.at);
  // The piece that brought the count to 99 %: what follows it is the tail.
  const at99 = verified[Math.max(0, Math.ceil(verified.length * 0.99) - 1)]!;
  const done = verified[verified.length - 1]!;
  const tail = verified.filter((piece) => piece.at > at99.at);
  return {
    seconds: Math.round((done.at - at99.at) / 1e3) / 1e3,
    pieces: tail
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, LISTED)
      .map((piece) => ({
        index: piece.index,
        peer: names.get(`${piece.pid}`) ?? `peer ${piece.pid - PEER_PID_BASE}`,
        seconds: round(piece.seconds),
        endgame: piece.endgame,
      })),
  };
}

/** The summary as text, the answers first. */
export function formatTraceSummary(summary: TraceSummary): string {
  const lines: string[] = [];
  const dropped =
    summary.droppedEvents > 0 ? `, ${summary.droppedEvents} older events dropped (ring buffer full)` : '';
  lines.push(`trace: ${summary.seconds.toFixed(1)} s, ${summary.events} events${dropped}`);
  lines.push('time per thread:');
  for (const thread of summary.threads) {
    const busy =
      thread.busyPercent !== null
        ? `busy ${thread.busyPercent} % (max ${thread.busyMaxPercent} %)`
        : 'busy n/a';
    const lag = thread.lagMaxMs !== null ? `, lag max ${thread.lagMaxMs} ms` : '';
    const batches =
      thread.eventBatches > 0
        ? `, ${thread.eventBatches} event batches (queued mean ${thread.queueMeanMs} ms, max ${thread.queueMaxMs} ms)`
        : thread.commandBatches > 0
          ? `, ${thread.commandBatches} command batches`
          : '';
    const commands =
      thread.commandQueueMaxMs !== null
        ? `, command batches waited up to ${thread.commandQueueMaxMs} ms`
        : '';
    lines.push(`  ${thread.name}: ${busy}${lag}${batches}${commands}`);
  }
  lines.push(`slowest peers (${summary.slowestPeers.length} of ${summary.peers} that sent data):`);
  summary.slowestPeers.forEach((peer, rank) => {
    const why = peer.reasons.length > 0 ? peer.reasons.join('; ') : 'nothing stands out';
    lines.push(
      `  ${rank + 1}. ${peer.name}: ${rate(peer.throughput)} over ${peer.connectedSeconds} s, ${peer.piecesVerified} pieces — ${why}`,
    );
  });
  if (summary.lastPercent) {
    lines.push(`last 1 %: ${summary.lastPercent.seconds} s from 99 % verified to done`);
    for (const piece of summary.lastPercent.pieces) {
      lines.push(
        `  piece ${piece.index} from ${piece.peer}: ${piece.seconds} s from assignment${piece.endgame ? ' (endgame copy)' : ''}`,
      );
    }
  } else lines.push('last 1 %: no piece verified in the trace');
  return `${lines.join('\n')}\n`;
}

function numbers(events: readonly Event[], key: string): number[] {
  return events.flatMap((event) => {
    const value = event.args?.[key];
    return typeof value === 'number' && Number.isFinite(value) ? [value] : [];
  });
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1024 * 1024) return `${(bytesPerSecond / 1024 / 1024).toFixed(1)} MiB/s`;
  return `${(bytesPerSecond / 1024).toFixed(0)} KiB/s`;
}
