import type { HostCommand } from '../messages/host-command.js';
import { type RateDirection, RateGovernor, RateLimiter, type RateLimits } from './rate-governor.js';

/**
 * A torrent's rate caps, wired: its own `RateLimiter`, the engine's shared one, the governor that
 * grants allowances to hosts, and the `rate-limits` command that tells every host what to meter.
 */
export class TorrentRates {
  readonly #torrentId: string;
  readonly #own: RateLimiter;
  readonly #send: (command: HostCommand) => void;
  /** The engine's (shared, fair across torrents), or one of this torrent's own. */
  readonly #governor: RateGovernor;
  readonly #ownsGovernor: boolean;
  #told = { download: false, upload: false };
  /** The hosts know the torrent (`add-torrent` was sent): only then are they told its caps. */
  #started = false;

  constructor(
    torrentId: string,
    limits: RateLimits | undefined,
    governor: RateGovernor | undefined,
    send: (command: HostCommand) => void,
  ) {
    this.#torrentId = torrentId;
    this.#own = new RateLimiter(limits);
    this.#send = send;
    this.#ownsGovernor = governor === undefined;
    this.#governor = governor ?? new RateGovernor();
  }

  /** The torrent's own caps (the engine's are `Engine.rateLimits`). */
  get limits(): RateLimits {
    return this.#own.limits;
  }

  /** The torrent was added to the hosts: they are told its caps (if any) from now on. */
  start(): void {
    this.#started = true;
    this.announce();
  }

  /** Tells the hosts what to meter, when that changed (at start: only if something is capped). */
  announce(): void {
    if (!this.#started) return;
    const download = this.#governor.limited(this.#own, 'download');
    const upload = this.#governor.limited(this.#own, 'upload');
    if (download === this.#told.download && upload === this.#told.upload) return;
    this.#told = { download, upload };
    this.#send({ type: 'rate-limits', torrentId: this.#torrentId, download, upload });
  }

  /** New caps for this torrent (bytes a second; a direction left out is not capped). */
  set(limits: RateLimits): void {
    this.#own.set(limits);
    this.announce();
  }

  need(actorId: number, direction: RateDirection): void {
    this.#governor.need(this.#own, actorId, direction, (bytes) =>
      this.#send({ type: 'rate-grant', actorId, direction, bytes }),
    );
  }

  forget(actorId: number): void {
    this.#governor.forget(actorId);
  }

  close(): void {
    this.#started = false;
    if (this.#ownsGovernor) this.#governor.close();
  }
}
