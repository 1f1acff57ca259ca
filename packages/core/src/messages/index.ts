export { HostCommand, HostCommandBatch } from './host-command.js';
export { ActorStats, HostEvent, HostEventBatch, ReleaseReason } from './host-event.js';
export { parseHostCommandBatch, parseHostEventBatch } from './validate.js';
