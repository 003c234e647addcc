/*
 * Request ids are `sequence × ID_SLOTS + slot`. The pool's in-flight table gives them out: the
 * slot is unique among the requests in flight, and the sequence tells a request from the ones
 * that had its slot before (a late answer to a request that timed out, a withdrawn mark).
 * IIS caps queueLength at 65535, so 16 bits of slot always do.
 */
export const ID_SLOTS = 65536;

/** The slot of a request id. */
export function slotOf(id: number): number {
  return id % ID_SLOTS;
}

/** The sequence part of a request id, as an Int32 (it wraps after four billion requests). */
export function sequenceOf(id: number): number {
  return Math.floor(id / ID_SLOTS) | 0;
}

/**
 * Entries by request id, in an array indexed by the id's slot: finding one is an index and a
 * compare, and a stale id never finds the entry that took its slot since.
 *
 * Not a Map: measured here, a Map holding the listener's requests across event-loop turns made
 * about 30 % of everything the listener allocated survive young-generation collections (to be
 * copied, promoted and later swept), against under 1 % with these slots; those collections cost
 * more CPU per request than the whole transport to the workers. (A worker's list of executing
 * requests, set and cleared for every request, is one too.)
 */
export class SlotTable<E> {
  readonly #entries: (E | undefined)[] = [];
  readonly #ids: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Stores `entry` under `id` (replacing what had the same slot). */
  set(id: number, entry: E): void {
    const slot = slotOf(id);
    if (this.#entries[slot] === undefined) this.#size++;
    this.#entries[slot] = entry;
    this.#ids[slot] = id;
  }

  get(id: number): E | undefined {
    const slot = slotOf(id);
    return this.#ids[slot] === id ? this.#entries[slot] : undefined;
  }

  /** Removes and returns the entry `id` names (undefined when it is not, or no longer, here). */
  delete(id: number): E | undefined {
    const slot = slotOf(id);
    if (this.#ids[slot] !== id) return undefined;
    const entry = this.#entries[slot];
    if (entry === undefined) return undefined;
    this.#entries[slot] = undefined;
    this.#size--;
    this.freed(slot);
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

  /** A slot became free. */
  protected freed(_slot: number): void {
    // nothing to do for ids given by someone else
  }

  /** Slots in use or used before (the next fresh slot). */
  protected get slotsUsed(): number {
    return this.#entries.length;
  }
}

/** The requests a pool has handed to its workers: the table gives each its id. */
export class InFlightTable<E> extends SlotTable<E> {
  readonly #free: number[] = [];
  #sequence = 0;

  /** Stores `entry`; returns the id it is known by. */
  add(entry: E): number {
    const slot = this.#free.pop() ?? this.slotsUsed;
    if (slot >= ID_SLOTS) throw new RangeError(`w3core: more than ${ID_SLOTS} requests in flight in one application pool`);
    const id = ++this.#sequence * ID_SLOTS + slot;
    this.set(id, entry);
    return id;
  }

  protected override freed(slot: number): void {
    this.#free.push(slot);
  }
}
