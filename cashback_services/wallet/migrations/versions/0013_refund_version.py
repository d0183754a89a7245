"""RefundOrder in two statements: an optimistic write checked against the version of what the decision read.

A refund reads before it asks rules to reverse the order (so that rules never reverses what
the wallet would refuse) and must not hold the customer's lock across that network call.
Until now it then loaded the customer again in a transaction of its own: five statements.
Now the first load is the decision's load, and the write checks that nothing it read changed:

  wallet_order_version(m, c, order, refund, now) -> text  the version of everything an order's
      load (wallet_load with `order`) can return: a digest of the row versions (xmin) of the
      customer row, all the customer's balance rows, the order's award row, the refund's row
      (or its absence), every hold of the order and every active hold past its TTL at `now`,
      their allocations, the order's lots and the lots those allocations took from. Every
      UPDATE gives a row a new xmin, and a row that would newly belong to that set (a balance
      in a new currency, a new hold of the order, the refund's row) changes the set, so the
      version changes whenever what the load would return does (and sometimes when it would
      not: a write that stores the same values; then the caller just takes the locked path).
  wallet_load_order(p jsonb) -> jsonb  wallet_load (lock for the statement, settle, load) and,
      in later statements of the same function so they see what it settled, the version
      and whether partner credit paid for the order.
  wallet_write_if(load jsonb, version text, changes jsonb) -> boolean  locks the order's
      owner and writes the changes (wallet_write) only if the version is still the one the
      decision was made on; false, with nothing of the changes written, otherwise.

The version is read from the rows themselves rather than from a counter every writer bumps,
so no writer has to cooperate: group commits, the sweeper's bulk settling (wallet_settle_lots,
which this revision does not touch), partner writes all count. wallet_load, wallet_write and
wallet_settle_lots are unchanged.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ORDER_VERSION = """
CREATE FUNCTION wallet_order_version(p_m text, p_c text, p_order text, p_refund text, p_now timestamptz)
RETURNS text LANGUAGE sql STABLE AS $fn$
  -- A superset of the rows wallet_load returns for an order (it loads the captured holds of the
  -- order; every hold of it is here), each found through an index of its own.
  WITH holds AS (
    SELECT h.hold_id, h.xmin::text AS v FROM wallet_holds h
     WHERE h.merchant_id = p_m AND h.customer_id = p_c AND h.order_id = p_order
    UNION
    SELECT h.hold_id, h.xmin::text FROM wallet_holds h
     WHERE h.merchant_id = p_m AND h.customer_id = p_c AND h.status = 'active' AND h.expires_at <= p_now
  ),
  allocs AS (
    SELECT a.hold_id, a.lot_id, a.xmin::text AS v FROM holds h JOIN wallet_hold_allocations a ON a.hold_id = h.hold_id
  ),
  lots AS (
    SELECT l.lot_id, l.xmin::text AS v FROM wallet_lots l
     WHERE l.merchant_id = p_m AND l.customer_id = p_c AND l.order_id = p_order
    UNION
    SELECT l.lot_id, l.xmin::text FROM allocs a JOIN wallet_lots l ON l.lot_id = a.lot_id
  )
  SELECT md5(concat_ws('|',
    coalesce((SELECT c.xmin::text FROM wallet_customers c WHERE c.merchant_id = p_m AND c.customer_id = p_c), '-'),
    coalesce((SELECT string_agg(b.currency || ':' || b.xmin::text, ',' ORDER BY b.currency) FROM wallet_balances b
               WHERE b.merchant_id = p_m AND b.customer_id = p_c), '-'),
    coalesce((SELECT a.xmin::text FROM wallet_awards a
               WHERE a.merchant_id = p_m AND a.kind = 'order' AND a.source_id = p_order), '-'),
    coalesce((SELECT r.xmin::text FROM wallet_refunds r WHERE r.merchant_id = p_m AND r.refund_id = p_refund), '-'),
    coalesce((SELECT string_agg(h.hold_id || ':' || h.v, ',' ORDER BY h.hold_id) FROM holds h), '-'),
    coalesce((SELECT string_agg(a.hold_id || '/' || a.lot_id || ':' || a.v, ',' ORDER BY a.hold_id, a.lot_id)
                FROM allocs a), '-'),
    coalesce((SELECT string_agg(l.lot_id || ':' || l.v, ',' ORDER BY l.lot_id) FROM lots l), '-')))
$fn$;
"""

LOAD_ORDER = """
CREATE FUNCTION wallet_load_order(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_doc jsonb := wallet_load(p);
  v_owner text := v_doc->'customers'->0->>'customer_id';
BEGIN
  IF v_owner IS NULL THEN  -- no such order: nothing was locked or loaded
    RETURN v_doc;
  END IF;
  -- A statement after the load's: it sees what the load settled (the lock is ours until the end).
  RETURN v_doc || jsonb_build_object(
    'version', wallet_order_version(p->'order'->>0, v_owner, p->'order'->>1, p->'refund'->>1,
                                    (p->>'now')::timestamptz),
    'partnered', EXISTS (SELECT 1 FROM wallet_partner_redemptions r
                          WHERE r.merchant_id = p->'order'->>0 AND r.order_id = p->'order'->>1));
END $fn$;
"""

WRITE_IF = """
CREATE FUNCTION wallet_write_if(p_load jsonb, p_version text, p_changes jsonb) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  v_m text := p_load->'order'->>0;
  v_order text := p_load->'order'->>1;
  v_owner text;
BEGIN
  SELECT a.customer_id INTO v_owner FROM wallet_awards a
   WHERE a.merchant_id = v_m AND a.kind = 'order' AND a.source_id = v_order;
  PERFORM 1 FROM wallet_customers c WHERE c.merchant_id = v_m AND c.customer_id = v_owner FOR UPDATE;
  -- Each statement from here on sees what the writers before us committed.
  IF wallet_order_version(v_m, v_owner, v_order, p_load->'refund'->>1, (p_load->>'now')::timestamptz)
     IS DISTINCT FROM p_version THEN
    RETURN false;
  END IF;
  PERFORM wallet_write(p_changes);
  RETURN true;
END $fn$;
"""


def upgrade() -> None:
    for sql in (ORDER_VERSION, LOAD_ORDER, WRITE_IF):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS wallet_write_if(jsonb, text, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS wallet_load_order(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS wallet_order_version(text, text, text, text, timestamptz)")
