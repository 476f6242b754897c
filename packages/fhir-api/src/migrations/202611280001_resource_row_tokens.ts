import type { Knex } from 'knex';
import type { Migration } from '@patient-access/consent';

/**
 * Row tokens (search/row-tokens.ts): the status, category, security-label and patient tokens of
 * each compartment resource on its row, so that access filters check the row instead of probing
 * search_token per candidate row. Rows written before this migration get theirs from search_token,
 * encoded as rowTokens() encodes them (`param|code` without a system, `param|system|code`,
 * `param|*|code`; `%`, `|`, `*` percent-encoded). The column stays nullable: a row without it
 * fails every row-token condition (hidden), so a writer that forgot it cannot expose a result.
 * On a large store the update rewrites every row once (a deployment runs it in a maintenance window).
 */
const enc = (x: string) => `replace(replace(replace(${x}, '%', '%25'), '|', '%7C'), '*', '%2A')`;

/** Fills row_tokens of every row from search_token (exported for the test that checks it agrees with the writer). */
export const FILL_ROW_TOKENS = `
  update resource r set row_tokens = coalesce((
    select array_agg(distinct v.token)
    from search_token t cross join lateral (values
      (t.param || '|' || case when t.system is null then '' else ${enc('t.system')} || '|' end || ${enc('t.code')}),
      (t.param || '|*|' || ${enc('t.code')})) as v(token)
    where t.patient_id = r.patient_id and t.resource_type = r.resource_type and t.resource_id = r.id
      and t.param in ('status', 'category', '_security', 'patient')), '{}')`;

export const resourceRowTokens: Migration = {
  name: '202611280001_resource_row_tokens',
  async up(db: Knex) {
    await db.schema.raw('alter table resource add column row_tokens text[]');
    await db.schema.raw(FILL_ROW_TOKENS);
  },
  async down(db: Knex) {
    await db.schema.raw('alter table resource drop column row_tokens');
  },
};
