/**
 * A single-producer, single-consumer ring of byte records on a SharedArrayBuffer: the
 * listener's fast lane to one worker and back (see wire.ts, "The request and response rings").
 *
 * A record is a 4-byte little-endian length and that many bytes, padded to 4. A record never
 * wraps: when it does not fit before the end, the producer writes a skip marker (-1) and the
 * record starts at 0. The producer owns TAIL, the consumer HEAD; one byte position always stays
 * free, so HEAD === TAIL means empty.
 *
 * Waking: a consumer that found the ring empty sets WAITING and sleeps with `Atomics.waitAsync`
 * (its event loop keeps running); a producer that commits a record while WAITING is set clears
 * it and notifies. Each side re-reads the other's index after its own store, so a record
 * committed while the consumer was going to sleep is never missed. A consumer that knows it
 * will read soon anyway clears WAITING itself ({@link ByteRing.defer}) and sets it again before
 * that read ({@link ByteRing.rearm}): commits in between cost the producer no notify.
 */
import { Buffer } from 'node:buffer';

/** `Atomics.waitAsync` (Node 16+; not in the ES2023 lib typings). */
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const HEAD = 0;
const TAIL = 1;
const WAITING = 2;
const CONTROL_BYTES = 16;
const SKIP = -1;

function padded(length: number): number {
  return (length + 3) & ~3;
}

export class ByteRing {
  readonly sab: SharedArrayBuffer;
  /** The record bytes (positions are offsets into this). */
  readonly data: Buffer;
  readonly #control: Int32Array;
  readonly #capacity: number;
  /** Producer: where the reserved record starts (its length word), -1 when none. */
  #reserved = -1;
  #reservedMax = 0;

  constructor(sab: SharedArrayBuffer) {
    if (sab.byteLength <= CONTROL_BYTES || (sab.byteLength - CONTROL_BYTES) % 4 !== 0) {
      throw new Error(`w3core: a ring needs 16 + 4n bytes, got ${sab.byteLength}`);
    }
    this.sab = sab;
    this.#control = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.data = Buffer.from(sab, CONTROL_BYTES, sab.byteLength - CONTROL_BYTES);
    this.#capacity = this.data.byteLength;
  }

  /** A new, empty ring of `capacity` bytes (rounded up to a multiple of 4). */
  static allocate(capacity: number): ByteRing {
    return new ByteRing(new SharedArrayBuffer(CONTROL_BYTES + padded(capacity)));
  }

  /** The largest payload a record can ever have in this ring. */
  get maxRecord(): number {
    return this.#capacity / 2 - 8;
  }

  // Producer side.

  /**
   * Reserves room for a record of up to `max` bytes; returns where its payload starts in
   * {@link data}, or -1 when the ring has no room now. Finish with {@link commit}.
   */
  reserve(max: number): number {
    if (max > this.maxRecord) return -1;
    const need = 4 + padded(max);
    const head = Atomics.load(this.#control, HEAD);
    let tail = this.#control[TAIL]!;
    if (tail >= head) {
      // Free: [tail, capacity) and [0, head - 1). Writing to the very end is fine unless the
      // tail would then come back to 0 while the head is there (that reads as empty).
      const end = this.#capacity - tail;
      if (end > need || (end === need && head !== 0)) {
        // fits before the end
      } else if (head > need) {
        this.data.writeInt32LE(SKIP, tail);
        tail = 0;
      } else {
        return -1;
      }
    } else if (head - tail <= need) {
      return -1;
    }
    this.#reserved = tail; // published by commit, after the skip marker and the record

    this.#reservedMax = max;
    return tail + 4;
  }

  /** Publishes the reserved record with its actual `length` (≤ the reserved maximum). */
  commit(length: number): void {
    const at = this.#reserved;
    if (at < 0 || length > this.#reservedMax || length < 0) throw new Error('w3core: ring commit without a matching reserve');
    this.#reserved = -1;
    this.data.writeInt32LE(length, at);
    let tail = at + 4 + padded(length);
    if (tail === this.#capacity) tail = 0;
    Atomics.store(this.#control, TAIL, tail);
    if (Atomics.load(this.#control, WAITING) === 1) {
      Atomics.store(this.#control, WAITING, 0);
      Atomics.notify(this.#control, WAITING);
    }
  }

  // Consumer side.

  /** Where the next record's payload starts, or -1 when the ring is empty; its length is {@link length}. */
  next(): number {
    let head = this.#control[HEAD]!;
    const tail = Atomics.load(this.#control, TAIL);
    if (head === tail) return -1;
    if (this.data.readInt32LE(head) === SKIP) {
      head = 0;
      Atomics.store(this.#control, HEAD, 0); // the skipped bytes are free again
      if (head === tail) return -1;
    }
    return head + 4;
  }

  /** The payload length of the record whose payload starts at `at` (from {@link next}). */
  length(at: number): number {
    return this.data.readInt32LE(at - 4);
  }

  /** Frees the record returned by {@link next}: the producer may overwrite it now. */
  release(at: number): void {
    let head = at + padded(this.length(at));
    if (head === this.#capacity) head = 0;
    Atomics.store(this.#control, HEAD, head);
  }

  /**
   * Resolves when a record may be there: at once when one is, else when the producer commits
   * one or {@link wake} is called.
   */
  async waitForRecord(): Promise<void> {
    Atomics.store(this.#control, WAITING, 1);
    if (Atomics.load(this.#control, TAIL) !== this.#control[HEAD]) {
      Atomics.store(this.#control, WAITING, 0);
      return;
    }
    const wait = waitAsync(this.#control, WAITING, 1);
    if (wait.async) await wait.value;
  }

  /**
   * Consumer: "I am awake and will read the ring myself before I sleep", so a producer's
   * commit skips the notify (a futex wake and, for an async waiter, a task posted to this
   * thread's event loop). A {@link waitForRecord} already pending stays registered. Must be
   * followed by {@link rearm} and a read: a record committed meanwhile woke nobody.
   */
  defer(): void {
    Atomics.store(this.#control, WAITING, 0);
  }

  /**
   * Consumer, after {@link defer}: producers notify again from now on. Read the ring after
   * this call: a record committed before it did not notify.
   */
  rearm(): void {
    Atomics.store(this.#control, WAITING, 1);
  }

  /** Wakes a consumer sleeping in {@link waitForRecord} without a record (e.g. to let it stop). */
  wake(): void {
    Atomics.store(this.#control, WAITING, 0);
    Atomics.notify(this.#control, WAITING);
  }
}
