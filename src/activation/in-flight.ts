import { WITHDRAWN_SLOTS } from './wire.js';

/** Entries per table: an id modulo this names its slot (IIS caps queueLength at 65535). */
const SLOTS = WITHDRAWN_SLOTS;

/**
 * The requests a pool has handed to its workers, by id. The table gives each entry its id: the
 * slot in the low 16 bits and a sequence number above them, so finding the request a response
 * answers is an array index, and a stale id (a late answer to a request that already timed out)
 * never matches the entry that took its slot since.
 *
 * Not a Map: measured here, a Map holding the listener's requests across event-loop turns made
 * about 30 % of everything the listener allocated survive young-generation collections (to be
 * copied, promoted and later swept), against under 1 % with these slots; those collections cost
 * more CPU per request than the whole transport to the workers.
 */
export class InFlightTable<E> {
  readonly #entries: (E | undefined)[] = [];
  readonly #ids: number[] = [];
  readonly #free: number[] = [];
  #sequence = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Stores `entry`; returns the id it is known by. */
  add(entry: E): number {
    const slot = this.#free.pop() ?? this.#entries.length;
    if (slot >= SLOTS) throw new RangeError(`w3core: more than ${SLOTS} requests in flight in one application pool`);
    const id = ++this.#sequence * SLOTS + slot;
    this.#entries[slot] = entry;
    this.#ids[slot] = id;
    this.#size++;
    return id;
  }

  get(id: number): E | undefined {
    const slot = id % SLOTS;
    return this.#ids[slot] === id ? this.#entries[slot] : undefined;
  }

  /** Removes and returns the entry `id` names (undefined when it is not, or no longer, here). */
  delete(id: number): E | undefined {
    const slot = id % SLOTS;
    if (this.#ids[slot] !== id) return undefined;
    const entry = this.#entries[slot];
    this.#entries[slot] = undefined;
    this.#ids[slot] = 0;
    this.#free.push(slot);
    this.#size--;
    return entry;
  }

  /** Every entry with its id, oldest id first (deleting the current one while iterating is fine). */
  *[Symbol.iterator](): Generator<[number, E]> {
    const live: number[] = [];
    for (let slot = 0; slot < this.#entries.length; slot++) if (this.#entries[slot] !== undefined) live.push(this.#ids[slot]!);
    live.sort((a, b) => a - b);
    for (const id of live) {
      const entry = this.get(id);
      if (entry !== undefined) yield [id, entry];
    }
  }

  values(): E[] {
    return [...this].map(([, e]) => e);
  }

  clear(): void {
    for (const [id] of this) this.delete(id);
  }
}
