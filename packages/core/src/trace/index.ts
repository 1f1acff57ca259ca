export { MAX_TRACE_EVENTS, TraceBuffer, type TraceEvent, type TraceFile } from './trace-buffer.js';
export {
  COORDINATOR_TID,
  DEFAULT_TRACE_SAMPLE_MS,
  PEER_PID_BASE,
  THREADS_PID,
  type TraceCounterSources,
  TraceRecorder,
  type TraceRecorderOptions,
  traceNowUs,
} from './trace-recorder.js';
export { TracingActorSystem } from './tracing-actor-system.js';
