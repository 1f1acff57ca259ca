import { writeFile } from 'node:fs/promises';
import { TorkErrorCode, type TraceRecorder, toTorkError } from '@tork/core';

/**
 * Writes a run's trace as one JSON object (`traceEvents`, the form Perfetto and chrome://tracing
 * open), one event a line so a diff or `grep` stays readable.
 */
export async function writeTrace(path: string, trace: TraceRecorder): Promise<void> {
  const file = trace.toJSON();
  const lines = file.traceEvents.map((event) => JSON.stringify(event));
  const text = `{"traceEvents":[\n${lines.join(',\n')}\n],\n"displayTimeUnit":"ms",\n"otherData":${JSON.stringify(file.otherData)}}\n`;
  await writeFile(path, text).catch((error: unknown) => {
    throw toTorkError(error, TorkErrorCode.IO, `cannot write the trace to ${path}`);
  });
}
