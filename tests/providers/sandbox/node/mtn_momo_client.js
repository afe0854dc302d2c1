// Drives the unmodified `mtn-momo` npm client (sparkplug/momoapi-node) against the simulator
// and prints what it got back as one JSON line. Settings come from the environment.
"use strict";
const momo = require("mtn-momo");

const env = process.env;

async function main() {
  const { Collections, Disbursements, Users } = momo.create({
    baseUrl: env.MTN_BASE_URL,
    environment: "sandbox",
    callbackHost: "127.0.0.1",
  });
  const users = Users({ primaryKey: env.MTN_COLLECTION_KEY });
  const userId = await users.create("127.0.0.1");
  const { apiKey } = await users.login(userId);

  const collections = Collections({
    primaryKey: env.MTN_COLLECTION_KEY, userId, userSecret: apiKey,
  });
  const paymentRef = await collections.requestToPay({
    amount: "50",
    currency: "EUR",
    externalId: "node-1",
    payer: { partyIdType: momo.PayerType.MSISDN, partyId: "56733123453" },
    payerMessage: "Order from Node",
    payeeNote: "Order from Node",
  });
  const payment = await collections.getTransaction(paymentRef);
  const declinedRef = await collections.requestToPay({
    amount: "5",
    currency: "EUR",
    externalId: "node-2",
    payer: { partyIdType: momo.PayerType.MSISDN, partyId: "46733123451" },
    payerMessage: "x",
    payeeNote: "x",
  });
  const declined = await collections.getTransaction(declinedRef).then(
    () => null,
    (error) => ({ name: error.name, reason: error.transaction && error.transaction.reason }),
  );
  // The client sends the id type as "MSISDN" here (its default), in capitals.
  const active = await collections.isPayerActive("56733123453");
  const collectionBalance = await collections.getBalance();

  const disbursements = Disbursements({
    primaryKey: env.MTN_DISBURSEMENT_KEY, userId, userSecret: apiKey,
  });
  const transferRef = await disbursements.transfer({
    amount: "20",
    currency: "EUR",
    externalId: "node-3",
    payee: { partyIdType: momo.PayerType.MSISDN, partyId: "56733123453" },
    payerMessage: "Payout",
    payeeNote: "Payout",
  });
  const transfer = await disbursements.getTransaction(transferRef);
  const disbursementBalance = await disbursements.getBalance();

  const mixed = Disbursements({
    primaryKey: env.MTN_COLLECTION_KEY, userId, userSecret: apiKey,
  });
  const mixedKey = await mixed.getBalance().then(
    () => null,
    (error) => ({ name: error.name, message: error.message }),
  );

  console.log(JSON.stringify({
    payment, declined, active, collectionBalance, transfer, disbursementBalance, mixedKey,
  }));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
