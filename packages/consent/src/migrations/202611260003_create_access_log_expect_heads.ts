import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * The access log's one-statement append (appendAccessLog's fast path): the statement moves each
 * chain head from where the writer believes it is and inserts the rows, then calls this function
 * with how many heads it expected to move and how many did. Unless all moved, it raises PAC01,
 * which undoes the whole statement (rows and heads alike): the writer then appends under locks.
 */
export const createAccessLogExpectHeads: Migration = {
  name: '202611260003_create_access_log_expect_heads',
  async up(db: Knex) {
    await db.schema.raw(`
      create function access_log_expect_heads(expected int, moved int) returns void language plpgsql as $$
      begin
        if moved <> expected then
          raise exception 'access_log: % of % chain heads were not where the writer expected', expected - moved, expected using errcode = 'PAC01';
        end if;
      end $$`);
  },
  async down(db: Knex) {
    await db.schema.raw('drop function if exists access_log_expect_heads(int, int)');
  },
};
