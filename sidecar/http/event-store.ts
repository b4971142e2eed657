/**
 * Resumability: every SSE event gets an id `<stream>_<seq>`, and the last events of a session are kept in a
 * buffer bounded by count and bytes. A client that lost a stream sends `Last-Event-ID` on GET and gets what it
 * missed on that stream. Older events fall out first; a client asking for an event that fell out is told so
 * (the replay starts at the oldest event still held).
 */
export interface StoredEvent {
  stream: number;
  seq: number;
  data: string;
}

export interface EventStoreLimits {
  maxEvents: number;
  maxBytes: number;
}

export class EventStore {
  private events: StoredEvent[] = [];
  private bytes = 0;
  private seq = 0;

  constructor(private readonly limits: EventStoreLimits) {}

  get enabled(): boolean {
    return this.limits.maxEvents > 0;
  }

  /** Stores an event and returns its id. */
  append(stream: number, data: string): string {
    const event = { stream, seq: ++this.seq, data };
    if (this.enabled) {
      this.events.push(event);
      this.bytes += data.length;
      while (
        this.events.length > this.limits.maxEvents ||
        (this.bytes > this.limits.maxBytes && this.events.length > 1)
      ) {
        this.bytes -= this.events.shift()!.data.length;
      }
    }
    return `${stream}_${event.seq}`;
  }

  /** Events of the same stream after `lastEventId`; undefined when the id is unknown or malformed. */
  after(lastEventId: string): { stream: number; events: StoredEvent[]; gap: boolean } | undefined {
    const m = /^(\d+)_(\d+)$/.exec(lastEventId);
    if (!m) return undefined;
    const stream = Number(m[1]);
    const seq = Number(m[2]);
    if (seq > this.seq) return undefined;
    // The id must be one this store issued on that stream (when it still holds it): "5_1" cannot name stream 5
    // with the sequence number of an event of another stream.
    const named = this.events.find((e) => e.seq === seq);
    if (named && named.stream !== stream) return undefined;
    const events = this.events.filter((e) => e.stream === stream && e.seq > seq);
    const oldest = this.events[0]?.seq ?? this.seq + 1;
    return { stream, events, gap: seq + 1 < oldest };
  }
}
