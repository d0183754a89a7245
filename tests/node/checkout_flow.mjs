// A checkout flow from Node (@grpc/grpc-js + @grpc/proto-loader on our protos/),
// as a checkout service written in another language would call us.
// Env: RULES_TARGET, WALLET_TARGET, OPS_KEY, CHECKOUT_KEY, MERCHANT_ID.
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../protos");
const def = protoLoader.loadSync(
  ["cashback/rules/v1/rules.proto", "cashback/wallet/v1/wallet.proto"],
  { includeDirs: [root], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
);
const pkg = grpc.loadPackageDefinition(def);
const rules = new pkg.cashback.rules.v1.RulesService(process.env.RULES_TARGET, grpc.credentials.createInsecure());
const wallet = new pkg.cashback.wallet.v1.WalletService(process.env.WALLET_TARGET, grpc.credentials.createInsecure());

function call(client, method, request, key) {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${key}`);
  return new Promise((resolve, reject) => {
    client[method](request, md, { deadline: Date.now() + 10000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

const merchant = process.env.MERCHANT_ID;
const ops = process.env.OPS_KEY;
const checkout = process.env.CHECKOUT_KEY;
const sar = (minor) => ({ currency_code: "SAR", amount_minor: String(minor) });
const now = { seconds: String(Math.floor(Date.now() / 1000) - 60), nanos: 0 };
const orderId = `node-${Date.now()}`;
const order = {
  merchant_id: merchant, order_id: orderId, customer_id: "node-customer", placed_at: now,
  currency_code: "SAR", channel: "CHANNEL_WEB", payment_method: "card",
  lines: [{ sku: "sku-1", category_ids: ["cat-1"], unit_price: sar(25000), quantity: "2" }],
};
const summary = {};

await call(rules, "CreateCampaign", { campaign: {
  merchant_id: merchant, name: "10% back (node)", status: "CAMPAIGN_STATUS_ACTIVE", percent_bps: 1000,
  currency_code: "SAR", timezone: "Asia/Riyadh", pending_days: 0, expires_after_days: 90,
} }, ops);

const quote = await call(rules, "QuoteOrder", { order }, checkout);
assert.equal(quote.score.total.amount_minor, "5000", "10% of 500.00 SAR is 50.00");
summary.quoted = quote.score.total.amount_minor;

const award = await call(wallet, "AwardOrder", { order }, checkout);
assert.equal(award.credited.amount_minor, "5000");
const replay = await call(wallet, "AwardOrder", { order }, checkout);
assert.equal(replay.credited.amount_minor, "5000", "a retried AwardOrder credits once and answers the same");
summary.credited = award.credited.amount_minor;

// pending_days = 0: the lot matures as soon as the wallet's sweeper sees it.
let balance;
for (let i = 0; i < 100; i++) {
  balance = (await call(wallet, "GetBalance", { merchant_id: merchant, customer_id: "node-customer", currency_code: "SAR" }, checkout)).balance;
  if (Number(balance.available.amount_minor) >= 5000) break;
  await new Promise((r) => setTimeout(r, 200));
}
assert.equal(balance.available.amount_minor, "5000", "the credit became available");

const hold = (await call(wallet, "AuthorizeRedemption", {
  merchant_id: merchant, customer_id: "node-customer", order_id: `${orderId}-2`, amount: sar(3000),
  hold_ttl: { seconds: "120", nanos: 0 }, idempotency_key: `auth-${orderId}`,
}, checkout)).hold;
assert.equal(hold.status, "HOLD_STATUS_ACTIVE");

const captured = (await call(wallet, "CaptureRedemption", { merchant_id: merchant, hold_id: hold.hold_id, amount: sar(2000) }, checkout)).hold;
assert.equal(captured.status, "HOLD_STATUS_CAPTURED");
assert.equal(captured.captured.amount_minor, "2000");

balance = (await call(wallet, "GetBalance", { merchant_id: merchant, customer_id: "node-customer", currency_code: "SAR" }, checkout)).balance;
assert.equal(balance.available.amount_minor, "3000", "partial capture released the rest of the hold");
assert.equal(balance.held.amount_minor, "0");
summary.available_after_capture = balance.available.amount_minor;

try {
  await call(wallet, "CaptureRedemption", { merchant_id: merchant, hold_id: hold.hold_id, amount: sar(2500) }, checkout);
  assert.fail("a second capture with another amount must be refused");
} catch (err) {
  assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
}

console.log(JSON.stringify({ ok: true, ...summary }));
rules.close();
wallet.close();
