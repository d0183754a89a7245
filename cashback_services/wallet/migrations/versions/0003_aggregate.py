"""The customer as the aggregate: three functions every wallet write goes through.

  wallet_settle_lots(ms, cs, now, mature, expire)  the time-driven changes of lots,
      set-based, for customers the caller has locked: pending lots past
      available_at mature (MATURE + `available` event), lots holding credit past
      their expiry expire to breakage (EXPIRY + `expired` event). The ONE
      implementation of both: the sweeper runs it in bulk, every write runs it
      for its customer.
  wallet_load(p jsonb) -> jsonb  locks the customers (creating them first),
      matures their due lots, and returns what the operation needs.
  wallet_write(p jsonb)  writes every change the domain decided, in reference
      order, then settles the customers' lots again when asked to (credit that
      came back to a lot past expiry, an award already due).

Nothing here weakens the database's checks: the entries' deferred balance
trigger, the append-only trigger, the CHECKs and the foreign keys all run.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SETTLE_LOTS = """
CREATE FUNCTION wallet_settle_lots(p_ms text[], p_cs text[], p_now timestamptz, p_mature boolean,
                                   p_expire boolean)
RETURNS TABLE (merchant_id varchar, customer_id varchar, matured bigint, expired_lots bigint, posted bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
BEGIN
  -- Each part runs only when something is due (the check is an index lookup); its
  -- data-modifying CTEs run to completion whether or not the final SELECT reads them.
  IF p_mature AND EXISTS (
      SELECT 1 FROM wallet_lots l JOIN unnest(p_ms, p_cs) AS k(m, c) ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE l.status = 'pending' AND l.available_at <= p_now) THEN
    RETURN QUERY WITH k AS (SELECT * FROM unnest(p_ms, p_cs) AS k(m, c)),
    due AS MATERIALIZED (
      SELECT l.lot_id, l.merchant_id, l.customer_id, l.currency, l.order_id, l.available_at, l.expires_at,
             l.created_at, l.remaining AS amount,
             CASE WHEN l.remaining > 0 THEN 'tx_' || replace(gen_random_uuid()::text, '-', '') END AS tx_id,
             CASE WHEN l.remaining > 0 THEN 'ev_' || replace(gen_random_uuid()::text, '-', '') END AS ev_id
        FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE l.status = 'pending' AND l.available_at <= p_now
    ),
    lots AS (
      UPDATE wallet_lots l SET status = 'available' FROM due d
       WHERE l.lot_id = d.lot_id AND l.status = 'pending' RETURNING 1
    ),
    txs AS (
      INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount,
                                       order_id, created_at)
      SELECT tx_id, d.merchant_id, d.customer_id, 'mature', currency, 0, order_id, p_now
        FROM due d WHERE amount > 0 ORDER BY d.merchant_id, d.customer_id, created_at, lot_id
      RETURNING 1
    ),
    entries AS (
      INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
      SELECT d.tx_id, d.merchant_id, d.customer_id, a.account, d.currency, a.sign * d.amount
        FROM due d CROSS JOIN (VALUES (1, 'customer:pending', -1), (2, 'customer:available', 1))
             AS a(ord, account, sign)
       WHERE d.amount > 0 ORDER BY d.merchant_id, d.customer_id, d.created_at, d.lot_id, a.ord
      RETURNING 1
    ),
    events AS (
      INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount, order_id, lot_id,
                                 transaction_id, available_at, expires_at, occurred_at)
      SELECT ev_id, 'available', d.merchant_id, d.customer_id, currency, amount, order_id, lot_id, tx_id,
             available_at, expires_at, p_now
        FROM due d WHERE amount > 0 ORDER BY d.merchant_id, d.customer_id, created_at, lot_id
      RETURNING 1
    ),
    balances AS (
      UPDATE wallet_balances b SET pending = b.pending - s.total, available = b.available + s.total,
             updated_at = p_now
        FROM (SELECT d.merchant_id, d.customer_id, d.currency, sum(amount) AS total FROM due d
               GROUP BY 1, 2, 3 HAVING sum(amount) > 0) s
       WHERE b.merchant_id = s.merchant_id AND b.customer_id = s.customer_id AND b.currency = s.currency
      RETURNING 1
    )
    SELECT d.merchant_id, d.customer_id, count(*), 0::bigint, 0::bigint FROM due d GROUP BY 1, 2;
  END IF;
  -- Credit past its expiry: an available lot's remainder, or credit that came
  -- back (a released hold, a refund) to a lot that already expired.
  IF p_expire AND EXISTS (
      SELECT 1 FROM wallet_lots l JOIN unnest(p_ms, p_cs) AS k(m, c) ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE (l.status = 'available' AND l.expires_at <= p_now) OR (l.status = 'expired' AND l.remaining > 0)) THEN
    RETURN QUERY WITH k AS (SELECT * FROM unnest(p_ms, p_cs) AS k(m, c)),
    due AS MATERIALIZED (
      SELECT l.lot_id, l.merchant_id, l.customer_id, l.currency, l.order_id, l.expires_at, l.created_at,
             l.remaining AS amount,
             CASE WHEN l.remaining > 0 THEN 'tx_' || replace(gen_random_uuid()::text, '-', '') END AS tx_id,
             CASE WHEN l.remaining > 0 THEN 'ev_' || replace(gen_random_uuid()::text, '-', '') END AS ev_id
        FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE (l.status = 'available' AND l.expires_at <= p_now) OR (l.status = 'expired' AND l.remaining > 0)
    ),
    lots AS (
      UPDATE wallet_lots l
         SET status = 'expired', expired = l.expired + d.amount, remaining = l.remaining - d.amount
        FROM due d WHERE l.lot_id = d.lot_id RETURNING 1
    ),
    txs AS (
      INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount,
                                       order_id, created_at)
      SELECT tx_id, d.merchant_id, d.customer_id, 'expiry', currency, -amount, order_id, p_now
        FROM due d WHERE amount > 0 ORDER BY d.merchant_id, d.customer_id, created_at, lot_id
      RETURNING 1
    ),
    entries AS (
      INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
      SELECT d.tx_id, d.merchant_id, d.customer_id, a.account, d.currency, a.sign * d.amount
        FROM due d CROSS JOIN (VALUES (1, 'customer:available', -1), (2, 'merchant:breakage', 1))
             AS a(ord, account, sign)
       WHERE d.amount > 0 ORDER BY d.merchant_id, d.customer_id, d.created_at, d.lot_id, a.ord
      RETURNING 1
    ),
    events AS (
      INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount, order_id, lot_id,
                                 transaction_id, expires_at, occurred_at)
      SELECT ev_id, 'expired', d.merchant_id, d.customer_id, currency, amount, order_id, lot_id, tx_id,
             expires_at, p_now
        FROM due d WHERE amount > 0 ORDER BY d.merchant_id, d.customer_id, created_at, lot_id
      RETURNING 1
    ),
    balances AS (
      UPDATE wallet_balances b SET available = b.available - s.total, updated_at = p_now
        FROM (SELECT d.merchant_id, d.customer_id, d.currency, sum(amount) AS total FROM due d
               GROUP BY 1, 2, 3 HAVING sum(amount) > 0) s
       WHERE b.merchant_id = s.merchant_id AND b.customer_id = s.customer_id AND b.currency = s.currency
      RETURNING 1
    )
    SELECT d.merchant_id, d.customer_id, 0::bigint, count(*), count(d.tx_id) FROM due d GROUP BY 1, 2;
  END IF;
END $fn$;
"""

LOAD = """
CREATE FUNCTION wallet_load(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now timestamptz := (p->>'now')::timestamptz;
  v_ms text[];
  v_cs text[];
  v_owner text;
  v_spend text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'spend', '[]')));
  v_holds text[] := ARRAY(SELECT x->>1 FROM jsonb_array_elements(coalesce(p->'holds', '[]')) x);
BEGIN
  -- Whose aggregates: the customers given and the owners of the holds named
  -- (capture, void), or the owner of an order (refund).
  IF p ? 'order' THEN
    SELECT a.customer_id INTO v_owner FROM wallet_awards a
     WHERE a.merchant_id = p->'order'->>0 AND a.kind = 'order' AND a.source_id = p->'order'->>1;
    IF v_owner IS NULL THEN RETURN jsonb_build_object('missing', 'order'); END IF;
    v_ms := ARRAY[p->'order'->>0]; v_cs := ARRAY[v_owner];
  ELSE
    SELECT array_agg(o.m ORDER BY o.m, o.c), array_agg(o.c ORDER BY o.m, o.c) INTO v_ms, v_cs FROM (
      SELECT x->>0 AS m, x->>1 AS c FROM jsonb_array_elements(coalesce(p->'customers', '[]')) x
      UNION
      SELECT h.merchant_id, h.customer_id FROM wallet_holds h
        JOIN jsonb_array_elements(coalesce(p->'holds', '[]')) x ON h.merchant_id = x->>0 AND h.hold_id = x->>1
    ) o;
    IF v_ms IS NULL THEN RETURN jsonb_build_object('customers', '[]'::jsonb); END IF;
  END IF;

  INSERT INTO wallet_customers (merchant_id, customer_id, created_at)
  SELECT k.m, k.c, v_now FROM unnest(v_ms, v_cs) AS k(m, c) ORDER BY 1, 2 ON CONFLICT DO NOTHING;
  -- Locked in key order, so two writers never deadlock; the sweeper skips a busy customer.
  IF coalesce((p->>'skip_locked')::boolean, false) THEN
    SELECT array_agg(cu.merchant_id ORDER BY cu.merchant_id, cu.customer_id),
           array_agg(cu.customer_id ORDER BY cu.merchant_id, cu.customer_id) INTO v_ms, v_cs
      FROM (SELECT c.merchant_id, c.customer_id FROM wallet_customers c
              JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc
             ORDER BY 1, 2 FOR UPDATE OF c SKIP LOCKED) cu;
    IF v_ms IS NULL THEN RETURN jsonb_build_object('customers', '[]'::jsonb); END IF;
  ELSE
    PERFORM 1 FROM wallet_customers c
      JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc
     ORDER BY c.merchant_id, c.customer_id FOR UPDATE OF c;
  END IF;

  PERFORM wallet_settle_lots(v_ms, v_cs, v_now, true, false);

  RETURN (
    WITH k AS (SELECT * FROM unnest(v_ms, v_cs) AS k(km, kc)),
    idem AS (
      SELECT i.* FROM wallet_idempotency i
        JOIN jsonb_array_elements(coalesce(p->'idem', '[]')) x
          ON i.merchant_id = x->>0 AND i.scope = x->>1 AND i.key = x->>2
    ),
    holds AS (
      SELECT h.* FROM wallet_holds h JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc
       WHERE (h.status = 'active' AND h.expires_at <= v_now)
          OR h.hold_id = ANY(v_holds)
          OR h.hold_id IN (SELECT result_id FROM idem WHERE scope = 'authorize')
          OR (h.order_id = p->'order'->>1 AND h.status = 'captured')
    ),
    allocs AS (
      SELECT a.* FROM wallet_hold_allocations a WHERE a.hold_id IN (SELECT hold_id FROM holds)
    ),
    lots AS (
      SELECT l.* FROM wallet_lots l JOIN k ON l.merchant_id = k.km AND l.customer_id = k.kc
       WHERE (l.currency = ANY(v_spend) AND l.status = 'available' AND l.remaining > 0
              AND (l.expires_at IS NULL OR l.expires_at > v_now))
          OR l.lot_id IN (SELECT lot_id FROM allocs)
          OR (l.order_id = p->'order'->>1 AND l.source = 'order')
    ),
    txs AS (
      SELECT t.* FROM wallet_transactions t
       WHERE t.transaction_id IN (SELECT result_id FROM idem WHERE scope = 'adjust')
    )
    SELECT jsonb_build_object(
      'customers', (SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') FROM wallet_customers c
                      JOIN k ON c.merchant_id = k.km AND c.customer_id = k.kc),
      'balances', (SELECT coalesce(jsonb_agg(to_jsonb(b)), '[]') FROM wallet_balances b
                     JOIN k ON b.merchant_id = k.km AND b.customer_id = k.kc),
      'holds', (SELECT coalesce(jsonb_agg(to_jsonb(h) ORDER BY h.created_at, h.hold_id), '[]') FROM holds h),
      'allocations', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.hold_id, a.seq), '[]') FROM allocs a),
      'lots', (SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.created_at, l.lot_id), '[]') FROM lots l),
      'idem', (SELECT coalesce(jsonb_agg(to_jsonb(i)), '[]') FROM idem i),
      'transactions', (SELECT coalesce(jsonb_agg(to_jsonb(t) || jsonb_build_object('entries', (
                          SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.id), '[]') FROM wallet_entries e
                           WHERE e.transaction_id = t.transaction_id))), '[]') FROM txs t),
      'awards', (SELECT coalesce(jsonb_agg(to_jsonb(a)), '[]') FROM wallet_awards a
                   JOIN jsonb_array_elements(coalesce(p->'awards', '[]')) x
                     ON a.merchant_id = x->>0 AND a.kind = x->>1 AND a.source_id = x->>2),
      'refunds', (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM wallet_refunds r
                    WHERE r.merchant_id = p->'refund'->>0 AND r.refund_id = p->'refund'->>1)
    )
  );
END $fn$;
"""

WRITE = """
CREATE FUNCTION wallet_write(p jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_now timestamptz := (p->>'now')::timestamptz;
BEGIN
  -- Only what the document carries: an empty part costs nothing.
  IF p ? 'new_lots' THEN
    INSERT INTO wallet_lots SELECT r.* FROM jsonb_array_elements(p->'new_lots') WITH ORDINALITY
      AS x(doc, n), jsonb_populate_record(NULL::wallet_lots, x.doc) r ORDER BY x.n;
  END IF;
  IF p ? 'lots' THEN
    UPDATE wallet_lots l
       SET remaining = r.remaining, held = r.held, spent = r.spent, expired = r.expired, reversed = r.reversed,
           debited = r.debited, status = r.status
      FROM jsonb_populate_recordset(NULL::wallet_lots, p->'lots') r
     WHERE l.lot_id = r.lot_id AND l.merchant_id = r.merchant_id AND l.customer_id = r.customer_id;
  END IF;
  IF p ? 'new_holds' THEN
    INSERT INTO wallet_holds SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_holds, p->'new_holds') r;
  END IF;
  IF p ? 'holds' THEN
    UPDATE wallet_holds h SET status = r.status, captured = r.captured, closed_at = r.closed_at
      FROM jsonb_populate_recordset(NULL::wallet_holds, p->'holds') r
     WHERE h.hold_id = r.hold_id AND h.merchant_id = r.merchant_id AND h.customer_id = r.customer_id;
  END IF;
  IF p ? 'new_allocations' THEN
    INSERT INTO wallet_hold_allocations
    SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_hold_allocations, p->'new_allocations') r;
  END IF;
  IF p ? 'allocations' THEN
    UPDATE wallet_hold_allocations a SET captured = r.captured, returned = r.returned
      FROM jsonb_populate_recordset(NULL::wallet_hold_allocations, p->'allocations') r
     WHERE a.hold_id = r.hold_id AND a.lot_id = r.lot_id AND a.merchant_id = r.merchant_id
       AND a.customer_id = r.customer_id;
  END IF;
  IF p ? 'transactions' THEN
    INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount, order_id,
                                     hold_id, refund_id, reason, created_at)
    SELECT r.transaction_id, r.merchant_id, r.customer_id, r.type, r.currency, r.amount, r.order_id, r.hold_id,
           r.refund_id, r.reason, r.created_at
      FROM jsonb_array_elements(p->'transactions') WITH ORDINALITY AS x(doc, n),
           jsonb_populate_record(NULL::wallet_transactions, x.doc) r ORDER BY x.n;
  END IF;
  IF p ? 'entries' THEN
    INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
    SELECT r.transaction_id, r.merchant_id, r.customer_id, r.account, r.currency, r.amount
      FROM jsonb_array_elements(p->'entries') WITH ORDINALITY AS x(doc, n),
           jsonb_populate_record(NULL::wallet_entries, x.doc) r ORDER BY x.n;
  END IF;
  IF p ? 'events' THEN
    INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount, order_id, lot_id,
                               hold_id, transaction_id, available_at, expires_at, occurred_at)
    SELECT r.event_id, r.type, r.merchant_id, r.customer_id, r.currency, r.amount, r.order_id, r.lot_id,
           r.hold_id, r.transaction_id, r.available_at, r.expires_at, r.occurred_at
      FROM jsonb_array_elements(p->'events') WITH ORDINALITY AS x(doc, n),
           jsonb_populate_record(NULL::wallet_events, x.doc) r ORDER BY x.n;
  END IF;
  IF p ? 'balances' THEN
    INSERT INTO wallet_balances
    SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_balances, p->'balances') r
    ON CONFLICT (merchant_id, customer_id, currency) DO UPDATE
       SET available = EXCLUDED.available, pending = EXCLUDED.pending, held = EXCLUDED.held,
           debt = EXCLUDED.debt, updated_at = EXCLUDED.updated_at;
  END IF;
  IF p ? 'customers' THEN
    UPDATE wallet_customers c
       SET last_order_at = r.last_order_at, first_earned_at = r.first_earned_at,
           first_redeemed_at = r.first_redeemed_at
      FROM jsonb_populate_recordset(NULL::wallet_customers, p->'customers') r
     WHERE c.merchant_id = r.merchant_id AND c.customer_id = r.customer_id;
  END IF;
  IF p ? 'idem' THEN
    INSERT INTO wallet_idempotency
    SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_idempotency, p->'idem') r;
  END IF;
  IF p ? 'new_awards' THEN
    INSERT INTO wallet_awards
    SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_awards, p->'new_awards') r;
  END IF;
  IF p ? 'awards' THEN
    UPDATE wallet_awards a SET refunded = r.refunded, credit_returned = r.credit_returned
      FROM jsonb_populate_recordset(NULL::wallet_awards, p->'awards') r
     WHERE a.merchant_id = r.merchant_id AND a.kind = r.kind AND a.source_id = r.source_id;
  END IF;
  IF p ? 'refunds' THEN
    INSERT INTO wallet_refunds
    SELECT r.* FROM jsonb_populate_recordset(NULL::wallet_refunds, p->'refunds') r;
  END IF;
  IF jsonb_array_length(coalesce(p->'settle', '[]')) > 0 THEN
    PERFORM wallet_settle_lots(ARRAY(SELECT x->>0 FROM jsonb_array_elements(p->'settle') x ORDER BY x->>0, x->>1),
                               ARRAY(SELECT x->>1 FROM jsonb_array_elements(p->'settle') x ORDER BY x->>0, x->>1),
                               v_now, true, true);
  END IF;
END $fn$;
"""


def upgrade() -> None:
    # Credit that came back to an expired lot is due at once; this finds it without a scan.
    op.execute("CREATE INDEX ix_wallet_lots_expired_credit ON wallet_lots (merchant_id, customer_id) "
               "WHERE status = 'expired' AND remaining > 0")
    for sql in (SETTLE_LOTS, LOAD, WRITE):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS wallet_write(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS wallet_load(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS wallet_settle_lots(text[], text[], timestamptz, boolean, boolean)")
    op.execute("DROP INDEX IF EXISTS ix_wallet_lots_expired_credit")
