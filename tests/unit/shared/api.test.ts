import { describe, expect, it } from 'vitest';
import { EVENTS, METHODS, requests } from '../../../src/shared/api';

describe('the contract', () => {
  it('names every method domain:verb', () => {
    expect(METHODS.length).toBeGreaterThan(0);
    for (const m of METHODS) expect(m).toMatch(/^[a-z]+:[a-z][a-zA-Z]*$/);
    for (const e of EVENTS) expect(e).toMatch(/^[a-z]+:[a-z][a-zA-Z]*$/);
  });

  it('rejects unknown fields and wrong types', () => {
    expect(requests['dataset:list'].safeParse({ offset: 0, limit: 5 }).success).toBe(true);
    expect(requests['dataset:list'].safeParse({ offset: -1, limit: 5 }).success).toBe(false);
    expect(requests['dataset:list'].safeParse({ offset: 0, limit: 5, extra: 1 }).success).toBe(false);
    expect(requests['dataset:open'].safeParse({ path: 42 }).success).toBe(false);
    expect(requests['dataset:open'].safeParse({ path: '' }).success).toBe(false);
  });
});
