// A text/event-stream parser (WHATWG HTML "server-sent events" parsing rules) over a
// ReadableStream of UTF-8 bytes.

export interface ServerSentEvent {
  /** The `event:` field, `message` when none was given. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream, if any. */
  id?: string;
}

/** Incremental parser: feed decoded text in any chunking, get the complete events back. */
export class EventStreamParser {
  #line = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  #pendingCR = false;
  #started = false;
  /** The last `retry:` the stream sent: how long to wait before reconnecting, in ms. */
  retryMs: number | undefined;

  feed(chunk: string): ServerSentEvent[] {
    const events: ServerSentEvent[] = [];
    let text = chunk;
    if (text.length === 0) return events;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the previous chunk and an LF that starts this one are one line break.
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#line + text.slice(start, i);
      this.#line = '';
      this.#processLine(line, events);
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.#line += text.slice(start);
    return events;
  }

  #processLine(line: string, events: ServerSentEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) {
        const ev: ServerSentEvent = { event: this.#event || 'message', data: this.#data.join('\n') };
        if (this.#id !== undefined) ev.id = this.#id;
        events.push(ev);
      }
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      case 'retry': // the reconnection time the server asks for, in ms (digits only, else ignored)
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default: // unknown fields are ignored
    }
  }
}

/**
 * The events of a text/event-stream body, in order. An incomplete event at the end of the
 * stream is dropped (as browsers do). Aborting `signal` cancels the stream and ends the
 * iteration; breaking out of the loop cancels it too.
 */
export async function* parseEventStream(stream: ReadableStream<Uint8Array>, signal?: AbortSignal, parser = new EventStreamParser()): AsyncGenerator<ServerSentEvent, void, undefined> {
  const reader = stream.getReader();
  const decoder = new TextDecoder('utf-8');
  const onAbort = (): void => void reader.cancel(signal?.reason).catch(() => {});
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
    yield* parser.feed(decoder.decode());
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => {});
  }
}
