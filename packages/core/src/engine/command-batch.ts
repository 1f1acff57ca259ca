import type { HostCommand } from '../messages/host-command.js';
import type { ActorSystem } from './actor-system.js';

/**
 * The coordinator's commands to the actor system, sent once per event-loop turn: commands produced
 * while handling one batch of events travel together (one thread hop per host, not per command).
 * Written piece buffers going back to their host (`recycle`) ride along, grouped per actor.
 */
export class CommandBatch {
  readonly #actors: ActorSystem;
  #commands: HostCommand[] = [];
  readonly #recycle = new Map<number, ArrayBuffer[]>();
  #scheduled = false;

  constructor(actors: ActorSystem) {
    this.#actors = actors;
  }

  send(command: HostCommand): void {
    this.#commands.push(command);
    this.#schedule();
  }

  /** Queues a written (or unwanted) piece buffer to go back to the host of the actor that filled it. */
  recycle(actorId: number, buffer: ArrayBuffer): void {
    let buffers = this.#recycle.get(actorId);
    if (!buffers) {
      buffers = [];
      this.#recycle.set(actorId, buffers);
    }
    buffers.push(buffer);
    this.#schedule();
  }

  /** Sends what is queued now (also what the turn's end would send). */
  flush(): void {
    this.#scheduled = false;
    for (const [actorId, buffers] of this.#recycle)
      this.#commands.push({ type: 'recycle', actorId, buffers });
    this.#recycle.clear();
    if (this.#commands.length === 0) return;
    const commands = this.#commands;
    this.#commands = [];
    this.#actors.send(commands);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }
}
