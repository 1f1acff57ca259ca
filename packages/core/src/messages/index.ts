export { HostCommand, HostCommandBatch, HostFile } from './host-command.js';
export { ActorStats, HostEvent, HostEventBatch, ReleaseReason } from './host-event.js';
export { parseRelayMessage, RELAY_WINDOW_BYTES, RelayMessage } from './relay-message.js';
export { parseHostCommandBatch, parseHostEventBatch } from './validate.js';
