/**
 * The pool's table of requests in flight: ids name a slot and a sequence, a stale id never finds
 * the request that took its slot since, and the "withdrawn" mark of one request never matches
 * another request of the same slot (a regression: with 32-bit marks of the whole id, the mark
 * of a request whose client left matched a request 65,536 sequences later, which then got 503).
 */
import { describe, expect, it } from 'vitest';
import { InFlightTable, sequenceOf, slotOf } from '../../dist/activation/in-flight.js';

describe('InFlightTable', () => {
  it('finds entries by id, forgets them once deleted, and reuses slots under new ids', () => {
    const table = new InFlightTable<string>();
    const a = table.add('a');
    const b = table.add('b');
    expect(table.get(a)).toBe('a');
    expect(table.get(b)).toBe('b');
    expect(table.size).toBe(2);
    expect(table.delete(a)).toBe('a');
    expect(table.get(a)).toBeUndefined();
    expect(table.delete(a)).toBeUndefined();
    const c = table.add('c');
    expect(slotOf(c)).toBe(slotOf(a)); // the freed slot is reused...
    expect(c).not.toBe(a); // ...under another id, so a late answer to `a` misses `c`
    expect(table.get(a)).toBeUndefined();
    expect(table.delete(a)).toBeUndefined();
    expect(table.get(c)).toBe('c');
    expect(table.size).toBe(2);
  });

  it('iterates oldest id first, and allows deleting while iterating', () => {
    const table = new InFlightTable<number>();
    const ids = Array.from({ length: 10 }, (_, i) => table.add(i));
    table.delete(ids[3]!);
    const again = table.add(99); // takes slot 3 with the newest id
    const seen: number[] = [];
    for (const [id, value] of table) {
      seen.push(value);
      table.delete(id);
    }
    expect(seen).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9, 99]);
    expect(table.size).toBe(0);
    expect(table.get(again)).toBeUndefined();
  });

  it('never gives two ids of one slot the same withdrawn mark, over more than 65,536 requests', () => {
    const table = new InFlightTable<number>();
    const keep = table.add(-1); // a request that stays in flight the whole time
    const marks = new Map<number, Set<number>>();
    for (let i = 0; i < 200_000; i++) {
      const id = table.add(i);
      const slot = slotOf(id);
      const set = marks.get(slot) ?? new Set<number>();
      expect(set.has(sequenceOf(id))).toBe(false);
      set.add(sequenceOf(id));
      marks.set(slot, set);
      table.delete(id);
    }
    expect(table.get(keep)).toBe(-1);
  });
});
