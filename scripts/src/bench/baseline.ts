/**
 * The bare baseline: the same JSON documents inserted with plain pg (no knex, no compartments, no
 * search index) into a single jsonb table, with multi-row INSERT statements, in transactions of the
 * same size as the write path's. This is what PostgreSQL and the driver cost on this machine for
 * storing the documents at all; the write path's figure is read against it.
 */
import pg from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { cpuSince, cpuSnapshot, type CpuUsage } from './bench-db.js';

export interface BaselineVariant {
  name: string;
  /** DDL of bench_baseline. */
  table: string;
  /** Columns inserted per document and their values. */
  columns: string[];
  values(r: Resource): unknown[];
}

export const BASELINE_VARIANTS: BaselineVariant[] = [
  {
    name: 'jsonb table, no index',
    table: 'create table bench_baseline (content jsonb not null)',
    columns: ['content'],
    values: (r) => [JSON.stringify(r)],
  },
  {
    name: 'jsonb table with primary key (resource_type, id)',
    table: 'create table bench_baseline (resource_type text not null, id text not null, content jsonb not null, primary key (resource_type, id))',
    columns: ['resource_type', 'id', 'content'],
    values: (r) => [r.resourceType, r.id, JSON.stringify(r)],
  },
];

/** Rows per INSERT statement (the bind-parameter limit is 65,535). */
const ROWS_PER_STATEMENT = 1000;

/**
 * Inserts every batch (one transaction each) into a fresh bench_baseline; returns the row count and
 * the time and CPU it took (measured before the connection closes, while its backend still exists).
 */
export async function runBaseline(url: string, dbName: string, variant: BaselineVariant, batches: Resource[][]): Promise<{ rows: number; cpu: CpuUsage }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('drop table if exists bench_baseline');
    await client.query(variant.table);
    await client.query('checkpoint');
    let rows = 0;
    const start = cpuSnapshot();
    for (const batch of batches) {
      await client.query('begin');
      for (let i = 0; i < batch.length; i += ROWS_PER_STATEMENT) {
        const chunk = batch.slice(i, i + ROWS_PER_STATEMENT);
        const tuples: string[] = [];
        const params: unknown[] = [];
        for (const r of chunk) {
          const start = params.length;
          params.push(...variant.values(r));
          tuples.push(`(${variant.columns.map((_, c) => `$${start + c + 1}`).join(',')})`);
        }
        await client.query(`insert into bench_baseline (${variant.columns.join(',')}) values ${tuples.join(',')}`, params);
        rows += chunk.length;
      }
      await client.query('commit');
    }
    return { rows, cpu: cpuSince(start, dbName) };
  } finally {
    await client.end();
  }
}
