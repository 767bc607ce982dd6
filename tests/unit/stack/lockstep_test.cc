#include "stack/lockstep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

using namespace nodeops::stack;
using Kind = SyncOutcome::Kind;

namespace {

/// An anvil as far as the miner can tell: a chain of blocks whose hash covers the parent, the
/// timestamp, the base fee and the transactions; evm_mine takes the whole mempool; timestamps may
/// not go back; and, like anvil, a rollback leaves the next base fee where the dropped blocks put it.
class FakeAnvil final : public NodeRpc {
 public:
  struct Block {
    std::string hash;
    uint64_t timestamp;
    std::string base_fee;
    std::vector<std::string> txs;
  };
  explicit FakeAnvil(uint64_t genesis) { chain.push_back({"genesis", genesis, "0x64", {}}); }

  std::optional<uint64_t> head() override {
    if (!up) return std::nullopt;
    return chain.size() - 1;
  }
  std::optional<std::string> block_hash(uint64_t h) override {
    if (!up || h >= chain.size()) return std::nullopt;
    return chain[h].hash;
  }
  std::optional<ReplayBlock> block(uint64_t h) override {
    if (!up || h >= chain.size()) return std::nullopt;
    return ReplayBlock{chain[h].hash, chain[h].timestamp, chain[h].base_fee, chain[h].txs};
  }
  std::optional<std::vector<std::string>> pending_transactions() override {
    if (!up) return std::nullopt;
    return std::vector<std::string>(mempool.begin(), mempool.end());
  }
  bool send_raw_transaction(const std::string& raw) override {
    if (!up) return false;
    for (const auto& b : chain) {
      if (std::find(b.txs.begin(), b.txs.end(), raw) != b.txs.end()) return true;  // nonce too low: "sent"
    }
    mempool.insert(raw);  // already known: still "sent"
    return true;
  }
  bool drop_pending_transactions() override {
    if (!up) return false;
    mempool.clear();
    return true;
  }
  bool rollback(uint64_t depth) override {
    if (!up || depth >= chain.size()) return false;
    for (uint64_t i = 0; i < depth; ++i) chain.pop_back();  // with their transactions, as anvil does
    return true;
  }
  bool set_next_base_fee(const std::string& fee) override {
    if (!up) return false;
    next_base_fee = fee;
    return true;
  }
  bool mine(uint64_t timestamp) override {
    if (!up || timestamp < chain.back().timestamp) return false;
    Block b{"", timestamp, next_base_fee, std::vector<std::string>(mempool.begin(), mempool.end())};
    std::string content = chain.back().hash + "|" + std::to_string(timestamp) + "|" + b.base_fee;
    for (const auto& t : b.txs) content += "|" + t;
    b.hash = std::to_string(std::hash<std::string>{}(content));
    // The next base fee follows from this block (gas used): here, from its transaction count.
    next_base_fee = "0x" + std::to_string(100 + b.txs.size() * 7 + chain.size() % 3);
    mempool.clear();
    chain.push_back(std::move(b));
    ++mines;
    return true;
  }

  std::vector<Block> chain;
  std::set<std::string> mempool;
  std::string next_base_fee = "0x64";
  bool up = true;
  int mines = 0;
};

constexpr BlockSchedule kSchedule{1700000000, 2};

/// A pool of fake nodes with a follower each and the modes `nodeops node` would set.
struct Pool {
  explicit Pool(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      names.push_back("n" + std::to_string(i));
      nodes.push_back(std::make_unique<FakeAnvil>(kSchedule.genesis_timestamp));
    }
    for (size_t i = 0; i < n; ++i) rebuild(i);
  }
  /// A fresh follower for node i (after its node object was replaced: a restart).
  void rebuild(size_t i) {
    std::vector<LockstepFollower::Peer> peers;
    for (size_t j = 0; j < nodes.size(); ++j) {
      if (j != i) peers.push_back({names[j], nodes[j].get(), j});
    }
    auto f = std::make_unique<LockstepFollower>(names[i], i, kSchedule, *nodes[i], peers, [this](const std::string& n) {
      return modes.count(n) ? modes[n] : NodeMode::follow;
    });
    if (i < followers.size())
      followers[i] = std::move(f);
    else
      followers.push_back(std::move(f));
  }
  void broadcast(const std::string& tx) {
    for (auto& n : nodes) {
      if (n->up) n->send_raw_transaction(tx);
    }
  }
  /// Every follower syncs to `target`, in node order (as the threads would, roughly at once).
  std::vector<SyncOutcome> tick(uint64_t target) {
    std::vector<SyncOutcome> out;
    for (auto& f : followers) out.push_back(f->sync(target));
    return out;
  }
  FakeAnvil& operator[](size_t i) { return *nodes[i]; }

  std::vector<std::string> names;
  std::vector<std::unique_ptr<FakeAnvil>> nodes;
  std::vector<std::unique_ptr<LockstepFollower>> followers;
  std::map<std::string, NodeMode> modes;
};

void expect_same_chain(FakeAnvil& a, FakeAnvil& b) {
  ASSERT_EQ(a.chain.size(), b.chain.size());
  for (size_t h = 0; h < a.chain.size(); ++h) {
    EXPECT_EQ(a.chain[h].hash, b.chain[h].hash) << "at height " << h;
    EXPECT_EQ(a.chain[h].timestamp, b.chain[h].timestamp) << "at height " << h;
    EXPECT_EQ(a.chain[h].txs, b.chain[h].txs) << "at height " << h;
  }
}

}  // namespace

TEST(BlockSchedule, TimestampIsAFunctionOfHeight) {
  EXPECT_EQ(kSchedule.timestamp_of(0), 1700000000u);
  EXPECT_EQ(kSchedule.timestamp_of(3), 1700000006u);
  EXPECT_EQ(kSchedule.height_at(1699999000), 0u);  // before genesis
  EXPECT_EQ(kSchedule.height_at(1700000001), 0u);
  EXPECT_EQ(kSchedule.height_at(1700000002), 1u);
  EXPECT_EQ(kSchedule.height_at(1700000007), 3u);
  for (uint64_t h = 0; h < 100; ++h) EXPECT_EQ(kSchedule.height_at(kSchedule.timestamp_of(h)), h);
}

TEST(LockstepFollower, NodesMinedInLockstepHoldTheSameBlocks) {
  Pool pool(3);
  for (uint64_t t = 1; t <= 5; ++t) {
    if (t == 3) pool.broadcast("tx-a");
    for (const auto& o : pool.tick(t)) EXPECT_EQ(o.kind, Kind::mined);
  }
  expect_same_chain(pool[0], pool[1]);
  expect_same_chain(pool[0], pool[2]);
  EXPECT_EQ(pool[0].chain[5].timestamp, kSchedule.timestamp_of(5));
  EXPECT_EQ(pool[2].chain[3].txs, std::vector<std::string>{"tx-a"});
  // Already at the height: nothing is mined twice.
  for (const auto& o : pool.tick(5)) EXPECT_EQ(o.kind, Kind::in_sync);
  EXPECT_EQ(pool[0].mines, 5);
}

TEST(LockstepFollower, APausedNodeLagsAndIsCaughtUpByReplayWhenResumed) {
  Pool pool(3);
  pool.tick(2);
  pool.modes["n2"] = NodeMode::paused;
  for (uint64_t t = 3; t <= 8; ++t) {
    pool.broadcast("tx-" + std::to_string(t));  // the broadcast reaches the paused node too
    auto out = pool.tick(t);
    EXPECT_EQ(out[2].kind, Kind::paused);
  }
  pool.broadcast("tx-pending");  // not mined anywhere yet
  EXPECT_EQ(*pool[2].head(), 2u);
  EXPECT_EQ(*pool[0].head(), 8u);

  pool.modes["n2"] = NodeMode::follow;
  auto out = pool.tick(9)[2];
  // n0 and n1 mined block 9 in this same tick (they sync first): n2 replays 3..9, block 9 with
  // the transaction that was pending when it was paused.
  EXPECT_EQ(out.kind, Kind::caught_up);
  EXPECT_EQ(out.replayed, 7u);
  EXPECT_EQ(out.head_after, 9u);
  expect_same_chain(pool[0], pool[2]);
  EXPECT_EQ(pool[2].chain[5].txs, std::vector<std::string>{"tx-5"});  // not all its mempool in one block
  EXPECT_EQ(pool[2].chain[9].txs, std::vector<std::string>{"tx-pending"});
}

TEST(LockstepFollower, ARestartedNodeIsReplayedFromGenesisOntoThePoolsChain) {
  Pool pool(2);
  for (uint64_t t = 1; t <= 6; ++t) {
    if (t % 2 == 0) pool.broadcast("tx-" + std::to_string(t));
    pool.tick(t);
  }
  pool.broadcast("tx-pending");
  // anvil keeps its chain in memory: the restarted process is back at genesis with an empty pool.
  pool.nodes[1] = std::make_unique<FakeAnvil>(kSchedule.genesis_timestamp);
  pool.rebuild(1);
  pool.rebuild(0);
  auto out = pool.tick(7);
  EXPECT_EQ(out[0].kind, Kind::mined);
  EXPECT_EQ(out[1].kind, Kind::caught_up);
  EXPECT_EQ(out[1].peer, "n0");
  expect_same_chain(pool[0], pool[1]);
  EXPECT_EQ(pool[1].chain[7].txs, std::vector<std::string>{"tx-pending"});
}

TEST(LockstepFollower, AForkedNodeKeepsTheHeightWithOtherHashesAndIsNoReplaySource) {
  Pool pool(3);
  pool.tick(2);
  pool.modes["n0"] = NodeMode::forked;
  pool.tick(4);
  EXPECT_EQ(*pool[0].head(), 4u);
  EXPECT_EQ(pool[0].chain[2].hash, pool[1].chain[2].hash);
  EXPECT_NE(pool[0].chain[3].hash, pool[1].chain[3].hash);
  EXPECT_NE(pool[0].chain[4].hash, pool[1].chain[4].hash);
  EXPECT_EQ(pool[0].chain[3].timestamp, kSchedule.timestamp_of(3) + 1);
  expect_same_chain(pool[1], pool[2]);

  // A restarted n2 must be replayed from n1 (following), not from the forked n0 listed first.
  pool.nodes[2] = std::make_unique<FakeAnvil>(kSchedule.genesis_timestamp);
  pool.rebuild(2);
  pool.rebuild(0);
  pool.rebuild(1);
  auto out = pool.tick(5);
  EXPECT_EQ(out[2].kind, Kind::caught_up);
  EXPECT_EQ(out[2].peer, "n1");
  expect_same_chain(pool[1], pool[2]);
}

TEST(LockstepFollower, ATransactionMinedInDifferentBlocksIsReorgedOntoTheFirstNodesChain) {
  Pool pool(3);
  pool.tick(4);
  // The broadcast reaches n0 and n1 before block 5, n2 only after it: a one-block fork.
  pool[0].send_raw_transaction("tx-late");
  pool[1].send_raw_transaction("tx-late");
  pool.followers[0]->sync(5);
  pool.followers[1]->sync(5);
  auto out = pool.followers[2]->sync(5);
  pool[2].send_raw_transaction("tx-late");
  // n2 mined its block 5 without the transaction, then found n0's differs: rolled back, replayed.
  EXPECT_EQ(out.kind, Kind::reorged);
  EXPECT_EQ(out.rolled_back, 1u);
  EXPECT_EQ(out.peer, "n0");
  expect_same_chain(pool[0], pool[2]);
  expect_same_chain(pool[0], pool[1]);
  EXPECT_EQ(pool[2].chain[5].txs, std::vector<std::string>{"tx-late"});
  // The next block is the same everywhere: the replay set the base fee anvil's rollback left off.
  for (const auto& o : pool.tick(6)) EXPECT_EQ(o.kind, Kind::mined);
  expect_same_chain(pool[0], pool[2]);
}

TEST(LockstepFollower, TheFirstNodeNeverMovesTheOthersFollowIt) {
  Pool pool(2);
  pool.tick(3);
  pool[1].send_raw_transaction("tx-only-on-n1");
  auto out = pool.tick(4);
  EXPECT_EQ(out[0].kind, Kind::mined);    // n0 ranks first at equal heights
  EXPECT_EQ(out[1].kind, Kind::reorged);  // n1 takes n0's block 4, without its transaction
  expect_same_chain(pool[0], pool[1]);
  EXPECT_TRUE(pool[1].chain[4].txs.empty());
  // n1's transaction was not lost with its block: back in its pool and sent to n0, it is in the
  // next block everywhere.
  for (const auto& o : pool.tick(5)) EXPECT_EQ(o.kind, Kind::mined);
  expect_same_chain(pool[0], pool[1]);
  EXPECT_EQ(pool[0].chain[5].txs, std::vector<std::string>{"tx-only-on-n1"});
}

TEST(LockstepFollower, ATransactionOnlyALaggingNodeGotReachesThePool) {
  Pool pool(3);
  pool.tick(2);
  pool.modes["n2"] = NodeMode::paused;
  pool.tick(5);
  pool[2].send_raw_transaction("tx-to-the-lagging-node");
  pool.modes["n2"] = NodeMode::follow;
  pool.tick(6);
  for (const auto& o : pool.tick(7)) EXPECT_TRUE(o.kind == Kind::mined || o.kind == Kind::in_sync);
  expect_same_chain(pool[0], pool[1]);
  expect_same_chain(pool[0], pool[2]);
  EXPECT_EQ(pool[0].chain[7].txs, std::vector<std::string>{"tx-to-the-lagging-node"});
}

TEST(LockstepFollower, ANodeMinedByHandIsReorgedBackWithinTheDepthLimit) {
  Pool pool(2);
  pool.tick(2);
  pool.modes["n1"] = NodeMode::paused;
  pool[1].mine(kSchedule.timestamp_of(3) + 1);  // mined by hand, off schedule
  pool.tick(8);
  pool.modes["n1"] = NodeMode::follow;
  auto out = pool.followers[1]->sync(9);
  EXPECT_EQ(out.kind, Kind::reorged);
  EXPECT_EQ(out.rolled_back, 1u);
  EXPECT_EQ(out.head_after, 9u);
  pool.followers[0]->sync(9);
  expect_same_chain(pool[0], pool[1]);
}

TEST(LockstepFollower, ADivergenceDeeperThanTheLimitIsLeftAlone) {
  Pool pool(2);
  pool.modes["n1"] = NodeMode::forked;
  pool.tick(LockstepFollower::kMaxReorgDepth + 3);
  pool.modes["n1"] = NodeMode::follow;
  auto out = pool.tick(LockstepFollower::kMaxReorgDepth + 4)[1];
  EXPECT_EQ(out.kind, Kind::not_on_chain);
  EXPECT_EQ(out.rolled_back, 0u);
  EXPECT_EQ(out.head_after, LockstepFollower::kMaxReorgDepth + 4);
}

TEST(LockstepFollower, AnUnreachableNodeOrPeerStopsNoOne) {
  Pool pool(3);
  pool.tick(1);
  pool[1].up = false;  // frozen or restarting
  auto out = pool.tick(2);
  EXPECT_EQ(out[0].kind, Kind::mined);
  EXPECT_EQ(out[1].kind, Kind::unreachable);
  EXPECT_EQ(out[2].kind, Kind::mined);
  // It answers again: three blocks behind, it replays from the others.
  pool.tick(3);
  pool.tick(4);
  pool[1].up = true;
  out = pool.tick(5);
  EXPECT_EQ(out[1].kind, Kind::caught_up);
  expect_same_chain(pool[0], pool[1]);
}

TEST(LockstepFollower, AReplayThatFailsHalfWayLosesNoTransactionOfTheNode) {
  Pool pool(2);
  pool.tick(2);
  pool.modes["n1"] = NodeMode::paused;
  pool.tick(6);
  pool[1].send_raw_transaction("tx-only-on-n1");
  pool.modes["n1"] = NodeMode::follow;
  // n0 answers its head, then is gone before the blocks are copied.
  struct Flaky final : NodeRpc {
    explicit Flaky(FakeAnvil& anvil) : a(anvil) {}
    std::optional<uint64_t> head() override { return a.head(); }
    std::optional<std::string> block_hash(uint64_t h) override { return a.block_hash(h); }
    std::optional<ReplayBlock> block(uint64_t h) override {
      if (h > 0) return std::nullopt;
      return a.block(h);
    }
    std::optional<std::vector<std::string>> pending_transactions() override { return a.pending_transactions(); }
    bool send_raw_transaction(const std::string& raw) override { return a.send_raw_transaction(raw); }
    bool drop_pending_transactions() override { return a.drop_pending_transactions(); }
    bool rollback(uint64_t d) override { return a.rollback(d); }
    bool set_next_base_fee(const std::string& f) override { return a.set_next_base_fee(f); }
    bool mine(uint64_t t) override { return a.mine(t); }
    FakeAnvil& a;
  } flaky(pool[0]);
  LockstepFollower f("n1", 1, kSchedule, pool[1], {{"n0", &flaky, 0}}, [](const std::string&) { return NodeMode::follow; });
  auto out = f.sync(7);
  EXPECT_EQ(out.kind, Kind::failed);
  EXPECT_EQ(pool[1].mempool.count("tx-only-on-n1"), 1u);  // back in its pool
  EXPECT_EQ(pool[0].mempool.count("tx-only-on-n1"), 1u);  // and sent to the peer
}

TEST(LockstepFollower, ANodeOfAnotherGenesisIsNeverTouchedNorCopied) {
  // Another stack's anvil holds n1's port: it started from another genesis, further ahead.
  Pool pool(2);
  pool.nodes[1] = std::make_unique<FakeAnvil>(kSchedule.genesis_timestamp + 100);
  for (int i = 0; i < 20; ++i) pool[1].mine(kSchedule.genesis_timestamp + 101 + i);
  pool.rebuild(0);
  pool.rebuild(1);
  auto before = pool[1].chain.size();
  auto out = pool.tick(3);
  EXPECT_EQ(out[0].kind, Kind::mined);  // mined on its own schedule, nothing copied from n1
  EXPECT_EQ(out[0].replayed, 0u);
  EXPECT_EQ(out[1].kind, Kind::foreign);
  EXPECT_EQ(pool[1].chain.size(), before);
  EXPECT_EQ(pool[0].chain[3].timestamp, kSchedule.timestamp_of(3));
}

TEST(NodeMode, FilesRoundTripAndDefaultToFollow) {
  auto dir = std::filesystem::temp_directory_path() / ("nodeops-mode-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(read_node_mode(dir, "eth-a"), NodeMode::follow);
  write_node_mode(dir, "eth-a", NodeMode::paused);
  EXPECT_EQ(read_node_mode(dir, "eth-a"), NodeMode::paused);
  write_node_mode(dir, "eth-a", NodeMode::forked);
  EXPECT_EQ(read_node_mode(dir, "eth-a"), NodeMode::forked);
  EXPECT_FALSE(parse_node_mode("sleeping"));
  EXPECT_EQ(*parse_node_mode("follow"), NodeMode::follow);
  std::filesystem::remove_all(dir);
}
