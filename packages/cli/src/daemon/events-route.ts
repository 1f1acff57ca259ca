import { TorkErrorCode } from '@tork/core';
import { streamSSE } from 'hono/streaming';
import { apiError, errorResponse } from './api-errors.js';
import type { RouteModule } from './api-server.js';
import { MAX_EVENT_CLIENTS } from './event-hub.js';

/** A comment line this often keeps idle proxies and clients from closing the stream (ms). */
const KEEPALIVE_MS = 15_000;

/**
 * `GET /api/v1/events`: Server-Sent Events, one per `--json` event of any torrent: `event:` is the
 * `--json` name, `data:` its JSON with `torrentId` and `time` added. The first event is `hello`;
 * a comment line every KEEPALIVE_MS keeps an idle stream open.
 */
export const eventsRoute: RouteModule = {
  paths: ['/api/v1/events'],
  mount(app, { hub }) {
    app.get('/api/v1/events', (c) => {
      const subscription = hub.subscribe();
      if (!subscription)
        return errorResponse(
          c,
          apiError(
            TorkErrorCode.LIMIT_EXCEEDED,
            `${MAX_EVENT_CLIENTS} event-stream clients are connected already`,
          ),
          503,
        );
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => subscription.close());
        // Gone before the stream started, or a write failing: the place is freed either way.
        try {
          if (stream.aborted) return;
          await stream.writeSSE({ event: 'hello', data: JSON.stringify({ time: Date.now() }) });
          for (;;) {
            const events = await subscription.next(KEEPALIVE_MS);
            if (events === undefined || stream.aborted) break;
            if (events.length === 0) await stream.write(': keep-alive\n\n');
            for (const { torrentId, event, data } of events)
              await stream.writeSSE({
                event,
                data: JSON.stringify({ torrentId, time: Date.now(), ...data }),
              });
          }
        } finally {
          subscription.close();
        }
      });
    });
  },
};
