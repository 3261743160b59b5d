// What a wallet (Keplr) or a dApp does with CosmJS, against a real OpenLedger node.
//
// Run by the Rust e2e test `cosmjs` (tests/tests/e2e/cosmjs.rs), which starts the node and passes:
//   OPENLEDGER_RPC        CometBFT RPC URL (http://127.0.0.1:PORT)
//   OPENLEDGER_CHAIN_ID   chain id of the node
//   OPENLEDGER_MNEMONIC   mnemonic of the funded dev account (it also runs the only validator)
//   OPENLEDGER_VALIDATOR  operator address (openvaloper1…) of that validator
//   OPENLEDGER_GOV_AUTHORITY  gov module account (signer of proposal messages)
// Steps run in order and share state (accounts, tx hashes, the proposal id).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { makeCosmoshubPath, Secp256k1HdWallet } from "@cosmjs/amino";
import { decodeTxRaw, DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import {
  BroadcastTxError,
  calculateFee,
  GasPrice,
  QueryClient,
  SigningStargateClient,
  StargateClient,
  createProtobufRpcClient,
  setupAuthExtension,
  setupBankExtension,
  setupDistributionExtension,
  setupGovExtension,
  setupStakingExtension,
} from "@cosmjs/stargate";
import { Comet38Client } from "@cosmjs/tendermint-rpc";
import { TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { MsgUpdateParams as BankMsgUpdateParams } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import { MsgSubmitProposalResponse } from "cosmjs-types/cosmos/gov/v1/tx";
import { QueryClientImpl as GovV1Query } from "cosmjs-types/cosmos/gov/v1/query";
import { ProposalStatus as V1ProposalStatus } from "cosmjs-types/cosmos/gov/v1/gov";
import { ProposalStatus, VoteOption } from "cosmjs-types/cosmos/gov/v1beta1/gov";

function env(name) {
  const v = process.env[name];
  assert.ok(v, `environment variable ${name} is required (the Rust e2e test \`cosmjs\` sets it)`);
  return v;
}

const RPC = env("OPENLEDGER_RPC");
const CHAIN_ID = env("OPENLEDGER_CHAIN_ID");
const MNEMONIC = env("OPENLEDGER_MNEMONIC");
const VALIDATOR = env("OPENLEDGER_VALIDATOR");
const GOV_AUTHORITY = env("OPENLEDGER_GOV_AUTHORITY");
const PREFIX = "open";
const DENOM = "uopen";
const GAS_PRICE = GasPrice.fromString("0.025uopen");
const HD_PATH = makeCosmoshubPath(0); // m/44'/118'/0'/0/0
const CLIENT_OPTS = { gasPrice: GAS_PRICE, broadcastPollIntervalMs: 250, broadcastTimeoutMs: 30_000 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const big = (coin) => BigInt(coin.amount);

// Shared state between the steps.
let client; // StargateClient (read only)
let comet; // Comet38Client
let query; // QueryClient with auth, bank, staking, gov extensions
let govV1; // cosmos.gov.v1 Query service
let devDirect; // DirectSecp256k1HdWallet of the dev account
let devAmino; // Secp256k1HdWallet of the dev account
let dev; // dev address
let devSigning; // SigningStargateClient, direct
let devAminoSigning; // SigningStargateClient, amino JSON
let alice; // fresh direct wallet address
let aliceSigning;
let bob; // fresh amino wallet address
let bobSigning;
let proposalId;
const devTxs = []; // hashes of the txs signed by dev

async function feeOf(hash) {
  const tx = await client.getTx(hash);
  assert.ok(tx, `getTx(${hash}) found nothing`);
  const decoded = decodeTxRaw(tx.tx);
  assert.equal(decoded.authInfo.fee.amount.length, 1, "fee has one coin");
  assert.equal(decoded.authInfo.fee.amount[0].denom, DENOM);
  return { fee: BigInt(decoded.authInfo.fee.amount[0].amount), gas: decoded.authInfo.fee.gasLimit, decoded, tx };
}

function assertOk(res, what) {
  assert.equal(res.code, 0, `${what} failed: code ${res.code} log ${res.rawLog ?? ""}`);
  assert.ok(res.height > 0, `${what}: height ${res.height}`);
  assert.match(res.transactionHash, /^[0-9A-F]{64}$/, `${what}: transactionHash`);
  assert.ok(res.gasUsed > 0n && res.gasUsed <= res.gasWanted, `${what}: gasUsed ${res.gasUsed} gasWanted ${res.gasWanted}`);
}

/// "auto" fee = ceil(simulated gas × 1.4) × gas price; the chain's minimum gas price is 0.025uopen.
function assertAutoFee({ fee, gas }) {
  assert.ok(gas > 0n, "gas limit from Simulate");
  assert.equal(fee, BigInt(calculateFee(Number(gas), GAS_PRICE).amount[0].amount), `fee for gas ${gas}`);
}

describe("CosmJS wallet flows against openledgerd", { concurrency: false }, () => {
  before(async () => {
    client = await StargateClient.connect(RPC);
    comet = await Comet38Client.connect(RPC);
    query = QueryClient.withExtensions(
      comet,
      setupAuthExtension,
      setupBankExtension,
      setupStakingExtension,
      setupDistributionExtension,
      setupGovExtension,
    );
    govV1 = new GovV1Query(createProtobufRpcClient(query));
    devDirect = await DirectSecp256k1HdWallet.fromMnemonic(MNEMONIC, { prefix: PREFIX, hdPaths: [HD_PATH] });
    devAmino = await Secp256k1HdWallet.fromMnemonic(MNEMONIC, { prefix: PREFIX, hdPaths: [HD_PATH] });
    [{ address: dev }] = await devDirect.getAccounts();
    devSigning = await SigningStargateClient.connectWithSigner(RPC, devDirect, CLIENT_OPTS);
    devAminoSigning = await SigningStargateClient.connectWithSigner(RPC, devAmino, CLIENT_OPTS);
    const aliceWallet = await DirectSecp256k1HdWallet.generate(24, { prefix: PREFIX });
    [{ address: alice }] = await aliceWallet.getAccounts();
    aliceSigning = await SigningStargateClient.connectWithSigner(RPC, aliceWallet, CLIENT_OPTS);
    const bobWallet = await Secp256k1HdWallet.generate(12, { prefix: PREFIX });
    [{ address: bob }] = await bobWallet.getAccounts();
    bobSigning = await SigningStargateClient.connectWithSigner(RPC, bobWallet, CLIENT_OPTS);
  });

  after(() => {
    for (const c of [client, devSigning, devAminoSigning, aliceSigning, bobSigning]) c?.disconnect();
    comet?.disconnect();
  });

  test("connect: chain id, height, block, CometBFT 0.38", async () => {
    assert.equal(await client.getChainId(), CHAIN_ID);
    const h = await client.getHeight();
    assert.ok(Number.isInteger(h) && h >= 2, `height ${h}`);
    const block = await client.getBlock();
    assert.equal(block.header.chainId, CHAIN_ID);
    assert.ok(block.header.height >= h);
    const status = await comet.status();
    assert.match(status.nodeInfo.version, /^0\.38\./);
  });

  test("the dev account: same address for direct and amino wallets, BaseAccount fields, balance", async () => {
    const [aminoAcc] = await devAmino.getAccounts();
    assert.equal(aminoAcc.address, dev);
    assert.match(dev, /^open1[02-9ac-hj-np-z]{38}$/);
    const acc = await client.getAccount(dev);
    assert.ok(acc, "dev account exists");
    assert.equal(acc.address, dev);
    assert.equal(typeof acc.accountNumber, "bigint");
    assert.equal(typeof acc.sequence, "number");
    const raw = await query.auth.account(dev);
    assert.equal(raw.typeUrl, "/cosmos.auth.v1beta1.BaseAccount");
    const seq = await client.getSequence(dev);
    assert.deepEqual(seq, { accountNumber: acc.accountNumber, sequence: acc.sequence });
    const bal = await client.getBalance(dev, DENOM);
    assert.equal(bal.denom, DENOM);
    assert.ok(big(bal) > 1_000_000_000_000n, `dev balance ${bal.amount}`);
    const all = await client.getAllBalances(dev);
    assert.deepEqual(all, [bal]);
  });

  test("a fresh address: no account, zero balance, empty balances", async () => {
    assert.notEqual(alice, dev);
    assert.equal(await client.getAccount(alice), null);
    assert.deepEqual(await client.getBalance(alice, DENOM), { denom: DENOM, amount: "0" });
    assert.deepEqual(await client.getAllBalances(alice), []);
    assert.equal(await client.getBalanceStaked(alice), null);
  });

  test("send with SIGN_MODE_DIRECT and fee auto (Simulate)", async () => {
    const gas = await devSigning.simulate(dev, [{ typeUrl: "/cosmos.bank.v1beta1.MsgSend", value: { fromAddress: dev, toAddress: alice, amount: [{ denom: DENOM, amount: "1" }] } }], "");
    assert.ok(gas > 0, `simulated gas ${gas}`);
    const before = big(await client.getBalance(dev, DENOM));
    const seqBefore = (await client.getSequence(dev)).sequence;
    const amount = 25_000_000_000n; // 25,000 OPEN
    const res = await devSigning.sendTokens(dev, alice, [{ denom: DENOM, amount: amount.toString() }], "auto", "direct send");
    assertOk(res, "sendTokens");
    devTxs.push(res.transactionHash);
    const { fee, gas: gasLimit, decoded } = await feeOf(res.transactionHash);
    assertAutoFee({ fee, gas: gasLimit });
    assert.equal(BigInt(res.gasWanted), gasLimit);
    assert.equal(decoded.body.memo, "direct send");
    assert.equal(decoded.authInfo.signerInfos[0].modeInfo.single.mode, 1, "SIGN_MODE_DIRECT");
    assert.deepEqual(await client.getBalance(alice, DENOM), { denom: DENOM, amount: amount.toString() });
    assert.equal(big(await client.getBalance(dev, DENOM)), before - amount - fee);
    assert.equal((await client.getSequence(dev)).sequence, seqBefore + 1);
    // The first tx set the account's public key.
    const acc = await client.getAccount(dev);
    assert.equal(acc.pubkey?.type, "tendermint/PubKeySecp256k1");
    const [{ pubkey }] = await devDirect.getAccounts();
    assert.equal(acc.pubkey.value, Buffer.from(pubkey).toString("base64"));
    // The recipient now exists (account number assigned, no public key yet).
    const aliceAcc = await client.getAccount(alice);
    assert.ok(aliceAcc, "recipient account created");
    assert.equal(aliceAcc.sequence, 0);
    assert.equal(aliceAcc.pubkey, null);
  });

  test("send with SIGN_MODE_LEGACY_AMINO_JSON (Secp256k1HdWallet), memo with <&>", async () => {
    const before = big(await client.getBalance(dev, DENOM));
    const amount = 3_000_000_000n;
    const memo = "amino <&> \"quoted\" ünïcode";
    const res = await devAminoSigning.sendTokens(dev, bob, [{ denom: DENOM, amount: amount.toString() }], "auto", memo);
    assertOk(res, "amino sendTokens");
    devTxs.push(res.transactionHash);
    const { fee, gas, decoded } = await feeOf(res.transactionHash);
    assertAutoFee({ fee, gas });
    assert.equal(decoded.body.memo, memo);
    assert.equal(decoded.authInfo.signerInfos[0].modeInfo.single.mode, 127, "SIGN_MODE_LEGACY_AMINO_JSON");
    assert.deepEqual(await client.getBalance(bob, DENOM), { denom: DENOM, amount: amount.toString() });
    assert.equal(big(await client.getBalance(dev, DENOM)), before - amount - fee);
  });

  test("a fresh amino wallet sends back (first tx of an account, amino)", async () => {
    const before = big(await client.getBalance(bob, DENOM));
    const res = await bobSigning.sendTokens(bob, alice, [{ denom: DENOM, amount: "1000000" }], "auto", "");
    assertOk(res, "bob sendTokens");
    const { fee } = await feeOf(res.transactionHash);
    assert.equal(big(await client.getBalance(bob, DENOM)), before - 1_000_000n - fee);
    assert.equal((await client.getAccount(bob)).sequence, 1);
  });

  test("delegate to the node's validator (direct and amino) and read it back", async () => {
    const { validators } = await query.staking.validators("BOND_STATUS_BONDED");
    assert.ok(validators.some((v) => v.operatorAddress === VALIDATOR), `validator ${VALIDATOR} in ${validators.map((v) => v.operatorAddress)}`);
    const { validator } = await query.staking.validator(VALIDATOR);
    assert.equal(validator.jailed, false);
    const tokensBefore = BigInt(validator.tokens);

    const amount = 5_000_000_000n;
    const before = big(await client.getBalance(alice, DENOM));
    const res = await aliceSigning.delegateTokens(alice, VALIDATOR, { denom: DENOM, amount: amount.toString() }, "auto", "");
    assertOk(res, "delegateTokens");
    const { fee } = await feeOf(res.transactionHash);
    assert.equal(big(await client.getBalance(alice, DENOM)), before - amount - fee);
    const { delegationResponse } = await query.staking.delegation(alice, VALIDATOR);
    assert.equal(delegationResponse.delegation.delegatorAddress, alice);
    assert.equal(delegationResponse.delegation.validatorAddress, VALIDATOR);
    assert.deepEqual(delegationResponse.balance, { denom: DENOM, amount: amount.toString() });
    assert.deepEqual(await client.getDelegation(alice, VALIDATOR), { denom: DENOM, amount: amount.toString() });
    assert.deepEqual(await client.getBalanceStaked(alice), { denom: DENOM, amount: amount.toString() });
    const { delegationResponses } = await query.staking.delegatorDelegations(alice);
    assert.equal(delegationResponses.length, 1);

    const res2 = await bobSigning.delegateTokens(bob, VALIDATOR, { denom: DENOM, amount: "1000000000" }, "auto", "ledger-style");
    assertOk(res2, "amino delegateTokens");
    assert.deepEqual(await client.getDelegation(bob, VALIDATOR), { denom: DENOM, amount: "1000000000" });
    const after = BigInt((await query.staking.validator(VALIDATOR)).validator.tokens);
    assert.equal(after, tokensBefore + amount + 1_000_000_000n);
    // A missing delegation reads as null.
    const [{ address: stranger }] = await (await DirectSecp256k1HdWallet.generate(12, { prefix: PREFIX })).getAccounts();
    assert.equal(await client.getDelegation(stranger, VALIDATOR), null);
  });

  test("withdraw staking rewards with amino (cosmos-sdk/MsgWithdrawDelegationReward)", async () => {
    let rewards = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(300)) {
      ({ rewards } = await query.distribution.delegationRewards(bob, VALIDATOR));
      if (rewards.length > 0 && BigInt(rewards[0].amount) >= 10n ** 18n) break; // at least 1 uopen accrued
    }
    assert.equal(rewards.length, 1, `rewards ${JSON.stringify(rewards)}`);
    assert.equal(rewards[0].denom, DENOM);
    assert.ok(BigInt(rewards[0].amount) > 0n, `pending rewards ${rewards[0].amount}`);
    const before = big(await client.getBalance(bob, DENOM));
    const res = await bobSigning.withdrawRewards(bob, VALIDATOR, "auto", "");
    assertOk(res, "amino withdrawRewards");
    const ev = res.events.find((e) => e.type === "withdraw_rewards");
    assert.ok(ev, `withdraw_rewards event in ${res.events.map((e) => e.type)}`);
    const paid = ev.attributes.find((a) => a.key === "amount").value;
    assert.match(paid, /^[1-9][0-9]*uopen$/);
    const { fee, decoded } = await feeOf(res.transactionHash);
    assert.equal(decoded.authInfo.signerInfos[0].modeInfo.single.mode, 127);
    assert.equal(big(await client.getBalance(bob, DENOM)), before - fee + BigInt(paid.replace(DENOM, "")));
  });

  test("gov: submit a v1 proposal (bank MsgUpdateParams) with the min deposit", async () => {
    const { params } = await govV1.Params({ paramsType: "deposit" });
    assert.ok(params, "gov v1 params");
    const minDeposit = params.minDeposit;
    assert.equal(minDeposit.length, 1);
    assert.equal(minDeposit[0].denom, DENOM);
    const msg = {
      typeUrl: "/cosmos.gov.v1.MsgSubmitProposal",
      value: {
        messages: [
          {
            typeUrl: "/cosmos.bank.v1beta1.MsgUpdateParams",
            value: BankMsgUpdateParams.encode(
              BankMsgUpdateParams.fromPartial({ authority: GOV_AUTHORITY, params: { sendEnabled: [], defaultSendEnabled: true } }),
            ).finish(),
          },
        ],
        initialDeposit: minDeposit,
        proposer: dev,
        metadata: "",
        title: "CosmJS proposal",
        summary: "bank params unchanged, submitted by the CosmJS wallet test",
        expedited: false,
      },
    };
    const before = big(await client.getBalance(dev, DENOM));
    const res = await devSigning.signAndBroadcast(dev, [msg], "auto", "");
    assertOk(res, "MsgSubmitProposal");
    devTxs.push(res.transactionHash);
    assert.equal(res.msgResponses.length, 1);
    assert.equal(res.msgResponses[0].typeUrl, "/cosmos.gov.v1.MsgSubmitProposalResponse");
    proposalId = MsgSubmitProposalResponse.decode(res.msgResponses[0].value).proposalId;
    assert.ok(proposalId > 0n, `proposal id ${proposalId}`);
    const ev = res.events.find((e) => e.type === "submit_proposal");
    assert.ok(ev, `submit_proposal event in ${res.events.map((e) => e.type)}`);
    assert.equal(ev.attributes.find((a) => a.key === "proposal_id")?.value, proposalId.toString());
    const { fee } = await feeOf(res.transactionHash);
    assert.equal(big(await client.getBalance(dev, DENOM)), before - BigInt(minDeposit[0].amount) - fee);
    const { proposal } = await govV1.Proposal({ proposalId });
    assert.equal(proposal.status, V1ProposalStatus.PROPOSAL_STATUS_VOTING_PERIOD);
    assert.equal(proposal.messages[0].typeUrl, "/cosmos.bank.v1beta1.MsgUpdateParams");
    // The v1beta1 view (what older Keplr versions read).
    const old = await query.gov.proposal(proposalId);
    assert.equal(old.proposal.status, ProposalStatus.PROPOSAL_STATUS_VOTING_PERIOD);
    const oldParams = await query.gov.params("deposit");
    assert.deepEqual(oldParams.depositParams.minDeposit, minDeposit);
    const { deposits } = await query.gov.deposits(proposalId);
    assert.deepEqual(
      deposits.map((d) => [d.depositor, d.amount]),
      [[dev, minDeposit]],
    );
    assert.deepEqual((await query.gov.deposit(proposalId, dev)).deposit.amount, minDeposit);
  });

  test("gov: vote with v1beta1 MsgVote, amino (Keplr/Ledger) and direct, and query the votes", async () => {
    const yes = await devAminoSigning.signAndBroadcast(
      dev,
      [{ typeUrl: "/cosmos.gov.v1beta1.MsgVote", value: { proposalId, voter: dev, option: VoteOption.VOTE_OPTION_YES } }],
      "auto",
      "",
    );
    assertOk(yes, "amino MsgVote");
    devTxs.push(yes.transactionHash);
    assert.equal((await feeOf(yes.transactionHash)).decoded.authInfo.signerInfos[0].modeInfo.single.mode, 127);
    const no = await aliceSigning.signAndBroadcast(
      alice,
      [{ typeUrl: "/cosmos.gov.v1beta1.MsgVote", value: { proposalId, voter: alice, option: VoteOption.VOTE_OPTION_NO } }],
      "auto",
      "",
    );
    assertOk(no, "direct MsgVote");
    const devVote = await query.gov.vote(proposalId, dev);
    assert.equal(devVote.vote.voter, dev);
    assert.equal(devVote.vote.proposalId, proposalId);
    assert.deepEqual(
      devVote.vote.options.map((o) => o.option),
      [VoteOption.VOTE_OPTION_YES],
    );
    const aliceVote = await govV1.Vote({ proposalId, voter: alice });
    assert.deepEqual(
      aliceVote.vote.options.map((o) => o.option),
      [VoteOption.VOTE_OPTION_NO],
    );
    const { votes } = await query.gov.votes(proposalId);
    assert.deepEqual(new Set(votes.map((v) => v.voter)), new Set([dev, alice]));
    // Voting on an unknown proposal fails in CheckTx with the gov codespace.
    await assert.rejects(
      devSigning.signAndBroadcast(dev, [{ typeUrl: "/cosmos.gov.v1beta1.MsgVote", value: { proposalId: 9999n, voter: dev, option: VoteOption.VOTE_OPTION_YES } }], "auto", ""),
      /gov|proposal/i,
    );
  });

  test("gov: the proposal passes at the end of the voting period", async () => {
    const deadline = Date.now() + 90_000;
    let status;
    while (Date.now() < deadline) {
      ({
        proposal: { status },
      } = await govV1.Proposal({ proposalId }));
      if (status !== V1ProposalStatus.PROPOSAL_STATUS_VOTING_PERIOD) break;
      await sleep(500);
    }
    assert.equal(status, V1ProposalStatus.PROPOSAL_STATUS_PASSED);
    const { tally } = await govV1.TallyResult({ proposalId });
    assert.ok(BigInt(tally.yesCount) > BigInt(tally.noCount), `tally ${JSON.stringify(tally)}`);
    assert.equal(BigInt(tally.noCount), 5_000_000_000n, "alice's stake voted no");
  });

  test("searchTx by message.sender and transfer.sender, getTx by hash", async () => {
    const found = await client.searchTx(`message.sender='${dev}'`);
    const hashes = new Set(found.map((t) => t.hash));
    for (const h of devTxs) assert.ok(hashes.has(h), `searchTx message.sender missing ${h}`);
    for (const t of found) assert.equal(t.code, 0);
    const pairs = await client.searchTx([
      { key: "message.sender", value: dev },
      { key: "message.action", value: "/cosmos.bank.v1beta1.MsgSend" },
    ]);
    for (const h of devTxs.slice(0, 2)) assert.ok(pairs.some((t) => t.hash === h), `message.sender AND message.action missing ${h}`);
    for (const t of pairs) {
      assert.deepEqual(decodeTxRaw(t.tx).body.messages.map((m) => m.typeUrl), ["/cosmos.bank.v1beta1.MsgSend"]);
    }
    assert.ok(!pairs.some((t) => t.hash === devTxs[2]), "the proposal tx is not a MsgSend");
    const transfers = await client.searchTx(`transfer.sender='${dev}' AND transfer.recipient='${alice}'`);
    assert.ok(transfers.some((t) => t.hash === devTxs[0]), "transfer.sender AND transfer.recipient");
    for (const h of devTxs) {
      const tx = await client.getTx(h);
      assert.ok(tx, `getTx ${h}`);
      assert.equal(tx.hash, h);
      assert.equal(tx.code, 0);
      assert.ok(tx.height > 0);
      assert.ok(tx.events.some((e) => e.type === "message" && e.attributes.some((a) => a.key === "sender" && a.value === dev)));
    }
    assert.equal(await client.getTx("00".repeat(32)), null);
    // An address one character off bob's (bob is a fresh random wallet: never the same char).
    const other = bob.slice(0, -1) + (bob.endsWith("x") ? "y" : "x");
    assert.deepEqual(await client.searchTx(`message.sender='${other}'`), []);
  });

  test("rejections in CheckTx surface code, codespace and log: wrong sequence, low fee, wrong chain id", async () => {
    const { accountNumber, sequence } = await client.getSequence(dev);
    const balance = big(await client.getBalance(dev, DENOM));
    const msg = { typeUrl: "/cosmos.bank.v1beta1.MsgSend", value: { fromAddress: dev, toAddress: alice, amount: [{ denom: DENOM, amount: "1" }] } };
    const fee = calculateFee(200_000, GAS_PRICE);
    const reject = async (signed, code, log) => {
      const bytes = TxRaw.encode(signed).finish();
      // broadcastTxSync: broadcastTx would leave its 60 s inclusion timer running after a CheckTx error.
      await assert.rejects(devSigning.broadcastTxSync(bytes), (err) => {
        assert.ok(err instanceof BroadcastTxError, `BroadcastTxError, got ${err}`);
        assert.equal(err.code, code, `code (log: ${err.log})`);
        assert.equal(err.codespace, "sdk");
        assert.match(err.log ?? "", log);
        return true;
      });
    };
    // Wrong sequence: code 32 (account sequence mismatch).
    await reject(await devSigning.sign(dev, [msg], fee, "", { accountNumber, sequence: sequence + 5, chainId: CHAIN_ID }), 32, /sequence/);
    // Fee below the minimum gas price: code 13 (insufficient fee).
    await reject(
      await devSigning.sign(dev, [msg], { amount: [{ denom: DENOM, amount: "1" }], gas: "200000" }, "", { accountNumber, sequence, chainId: CHAIN_ID }),
      13,
      /insufficient fee/,
    );
    // Signed for another chain: code 4 (unauthorized, signature verification failed).
    await reject(await devSigning.sign(dev, [msg], fee, "", { accountNumber, sequence, chainId: "other-chain" }), 4, /signature verification failed/);
    // Amino with the wrong chain id too.
    await reject(await devAminoSigning.sign(dev, [msg], fee, "", { accountNumber, sequence, chainId: "other-chain" }), 4, /signature verification failed/);
    // Nothing moved.
    assert.equal(big(await client.getBalance(dev, DENOM)), balance);
    assert.equal((await client.getSequence(dev)).sequence, sequence);
    // Spending more than the balance fails in DeliverTx's place of CheckTx/Simulate: fee "auto" surfaces the error.
    await assert.rejects(
      aliceSigning.sendTokens(alice, bob, [{ denom: DENOM, amount: (10n ** 18n).toString() }], "auto"),
      /insufficient funds/,
    );
  });
});
