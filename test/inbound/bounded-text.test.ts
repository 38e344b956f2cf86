import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { boundedText } from '../../src/mime/bounded-text.js';

describe('boundedText: a stored value stays within its bound after SQLite', () => {
  it('replaces lone surrogates, never cuts a pair, and round-trips through SQLite at the same length', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (s TEXT)');
    const samples = ['é'.repeat(997) + '\uD800' + 'é', 'a'.repeat(997) + '😀', '\uDC00x\uD83D', 'plain'];
    for (const sample of samples) {
      const bounded = boundedText(sample, 998);
      expect(bounded.length).toBeLessThanOrEqual(998);
      db.prepare('DELETE FROM t').run();
      db.prepare('INSERT INTO t VALUES (?)').run(bounded);
      expect((db.prepare('SELECT s FROM t').get() as { s: string }).s).toBe(bounded);
    }
    expect(boundedText('a'.repeat(997) + '😀', 998)).toBe('a'.repeat(997));
    expect(boundedText('\uDC00x\uD83D', 998)).toBe('\uFFFDx\uFFFD');
    db.close();
  });
});
