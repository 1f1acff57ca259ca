import type { ActorSystem, HostCommand, HostEvent } from '@tork/core';

/**
 * An ActorSystem that records the coordinator's commands and lets a test play the hosts' part:
 * `emit` delivers events as one batch, as a host's data port would. No threads, no sockets.
 */
export class ScriptedActorSystem implements ActorSystem {
  readonly commands: HostCommand[] = [];
  #handler: ((events: readonly HostEvent[]) => void) | undefined;

  send(commands: readonly HostCommand[]): void {
    this.commands.push(...commands);
  }

  onEvents(handler: (events: readonly HostEvent[]) => void): void {
    this.#handler = handler;
  }

  emit(...events: HostEvent[]): void {
    this.#handler?.(events);
  }

  async close(): Promise<void> {}

  /** The commands of one type, in the order sent. */
  of<T extends HostCommand['type']>(type: T): Extract<HostCommand, { type: T }>[] {
    return this.commands.filter(
      (command): command is Extract<HostCommand, { type: T }> => command.type === type,
    );
  }
}
