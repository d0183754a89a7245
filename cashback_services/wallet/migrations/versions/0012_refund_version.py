"""RefundOrder in two statements: an optimistic write checked against what the decision read.

A refund reads before it asks rules to reverse the order (so that rules never reverses what
the wallet would refuse) and must not hold the customer's lock across that network call.
Until now it then loaded the customer again in a transaction of its own: five statements.
Now the first load is the decision's load, and the write checks that nothing it read changed:

  wallet_digest(doc jsonb) -> text  a digest of a wallet_load document that does not depend
      on the order of rows in its arrays (the same rows give the same digest whatever plan
      aggregated them): the "version" of exactly what a decision read.
  wallet_write_if(load jsonb, digest text, changes jsonb) -> boolean  locks and loads again
      with the same request (wallet_load: same `now`, so the same rows qualify), and writes
      the changes (wallet_write) only if the load has the digest the caller decided on;
      false, with nothing of the changes written, when something changed in between.

The version is the read set itself rather than a counter every writer bumps, so no writer
has to cooperate: group commits, the sweeper's bulk settling (wallet_settle_lots, which
this revision does not touch), partner writes and an operator's SQL all count. A write that
changes rows the decision did not read (another order's lots) does not force a retry;
one that changes a row it did read (the balance row, the order's lots and holds, the award
or refund rows) does. wallet_load, wallet_write and wallet_settle_lots are unchanged.

Revision ID: 0012
Revises: 0010
"""

from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

DIGEST = """
CREATE FUNCTION wallet_digest(p jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  -- Each key's rows sorted by their text: wallet_load aggregates some parts (the balance rows)
  -- without an ORDER BY, and two plans of one query may return the same rows in another order.
  SELECT md5(coalesce(string_agg(d.k || '=' || (
           SELECT coalesce(string_agg(e::text, ',' ORDER BY e::text), '')
             FROM jsonb_array_elements(CASE jsonb_typeof(d.v) WHEN 'array' THEN d.v
                                       ELSE jsonb_build_array(d.v) END) e), ';' ORDER BY d.k), ''))
    FROM jsonb_each(p) AS d(k, v)
$fn$;
"""

WRITE_IF = """
CREATE FUNCTION wallet_write_if(p_load jsonb, p_digest text, p_changes jsonb) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  -- wallet_load takes the customers' locks (held to the end of this statement) and would
  -- mature what fell due; each of its statements sees what the writers before us committed.
  IF wallet_digest(wallet_load(p_load)) IS DISTINCT FROM p_digest THEN
    RETURN false;
  END IF;
  PERFORM wallet_write(p_changes);
  RETURN true;
END $fn$;
"""


def upgrade() -> None:
    op.execute(DIGEST)
    op.execute(WRITE_IF)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS wallet_write_if(jsonb, text, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS wallet_digest(jsonb)")
