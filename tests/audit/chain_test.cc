#include "audit/chain.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <thread>

namespace pai::audit {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/pai-audit-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

Key TestKey(char fill = 'a') {
  Key k;
  k.bytes = std::string(32, fill);
  auto file = TempDir() + "/k";
  std::ofstream(file) << std::string(64, fill == 'a' ? '1' : '2') << "\n";
  auto loaded = LoadKeyFile(file);
  REQUIRE(loaded.ok());
  return *loaded;
}

// Writes `n` records (types cycling LLM_CALL, TOOL_CALL, BUDGET_EXCEEDED) and closes the chain.
void WriteChain(const std::string& dir, const Key& key, int n) {
  ChainOptions o;
  o.dir = dir;
  o.key = key;
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  static const char* kTypes[] = {"LLM_CALL", "TOOL_CALL", "BUDGET_EXCEEDED"};
  uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.type = kTypes[i % 3];
    e.ns = "default";
    e.agent = i % 2 ? "coder" : "reviewer";
    e.detail["i"] = i;
    e.detail["model"] = "up/gpt-4o-mini";
    e.detail["cost_usd"] = 0.000125 * i;
    last = (*chain)->EmitSeq(std::move(e));
  }
  std::promise<bool> durable;
  (*chain)->WhenDurable(last, [&](bool ok) { durable.set_value(ok); });
  CHECK(durable.get_future().get());
  (*chain)->Close();
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// WaitUntil(): a bounded wait (10 s) on a condition another thread makes true; its value then.
bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return done();
}

// EmitOne(): one record; resolves with (acknowledged ok, synced_seq at that moment).
std::pair<bool, uint64_t> EmitAndWait(Chain& chain, uint64_t* seq) {
  Event e;
  e.type = "LLM_CALL";
  e.ns = "default";
  e.agent = "coder";
  *seq = chain.EmitSeq(std::move(e));
  std::promise<std::pair<bool, uint64_t>> ack;
  chain.WhenDurable(*seq, [&](bool ok) { ack.set_value({ok, chain.synced_seq()}); });
  return ack.get_future().get();
}

TEST_CASE("group sync acknowledges a record once written, before its sync, and close syncs it") {
  const std::string dir = TempDir();
  ChainOptions o;
  o.dir = dir;
  o.key = TestKey();
  o.sync = Sync::kGroup;
  o.sync_interval = absl::Hours(1);  // the syncer would wait an hour: only Close() syncs
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  uint64_t seq = 0;
  const auto [ok, synced] = EmitAndWait(**chain, &seq);
  CHECK(ok);
  CHECK(synced < seq);                             // acknowledged without waiting for the disk
  CHECK(Lines(dir + "/chain.jsonl").size() == 1);  // but written: it survives kill -9
  (*chain)->Close();
  CHECK((*chain)->synced_seq() == seq);
  CHECK(Verify(dir, {o.key}).ok);
  CHECK(Verify(dir, {o.key}).checkpoint_seq == seq);
}

TEST_CASE("group sync syncs a written record within its interval without further writes") {
  const std::string dir = TempDir();
  ChainOptions o;
  o.dir = dir;
  o.key = TestKey();
  o.sync = Sync::kGroup;
  o.sync_interval = absl::Milliseconds(1);
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  uint64_t seq = 0;
  CHECK(EmitAndWait(**chain, &seq).first);
  // Nothing else is written: the syncer alone must get the record to disk (a bounded wait on
  // the condition, far above the 1 ms interval).
  WaitUntil([&] { return (*chain)->synced_seq() >= seq; });
  CHECK((*chain)->synced_seq() == seq);
  (*chain)->Close();
}

Event CallEvent(int i) {
  Event e;
  e.type = "LLM_CALL";
  e.ns = "default";
  e.agent = "coder";
  e.detail["i"] = i;
  return e;
}

TEST_CASE("buffered records reach the file and are acknowledged only at the next flush") {
  const std::string dir = TempDir();
  ChainOptions o;
  o.dir = dir;
  o.key = TestKey();
  o.sync_interval = absl::Hours(1);  // no sync: only writes are observed
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  const uint64_t a = (*chain)->EmitBuffered(CallEvent(1));
  const uint64_t b = (*chain)->EmitBuffered(CallEvent(2));
  CHECK(a == 1);
  CHECK(b == 2);
  CHECK(Lines(dir + "/chain.jsonl").empty());  // not written yet
  CHECK((*chain)->durable_seq() == 0);         // so not acknowledged
  bool acked = false;
  (*chain)->WhenDurable(b, [&](bool ok) { acked = ok; });
  CHECK_FALSE(acked);
  CHECK((*chain)->Flush());
  CHECK(Lines(dir + "/chain.jsonl").size() == 2);  // one write, both records, in order
  CHECK((*chain)->durable_seq() == b);
  CHECK(acked);  // the waiter registered while it was buffered is answered by the write
  CHECK((*chain)->records_written() == 2);
  // An unbuffered record writes what is buffered before it: file order is chain order.
  const uint64_t c = (*chain)->EmitBuffered(CallEvent(3));
  const uint64_t d = (*chain)->EmitSeq(CallEvent(4));
  CHECK(d == c + 1);
  const auto lines = Lines(dir + "/chain.jsonl");
  REQUIRE(lines.size() == 4);
  CHECK(boost::json::parse(lines[2]).as_object().at("seq").to_number<uint64_t>() == c);
  CHECK((*chain)->durable_seq() == d);
  // Close() writes what is still buffered.
  const uint64_t e = (*chain)->EmitBuffered(CallEvent(5));
  (*chain)->Close();
  CHECK(Lines(dir + "/chain.jsonl").size() == 5);
  const VerifyResult r = Verify(dir, {o.key});
  CHECK(r.ok);
  CHECK(r.checkpoint_seq == e);  // the final checkpoint covers the buffered record too
  std::filesystem::remove_all(dir);
}

TEST_CASE("a sync never checkpoints buffered records that are not in the file") {
  const std::string dir = TempDir();
  ChainOptions o;
  o.dir = dir;
  o.key = TestKey();
  o.sync_interval = absl::Milliseconds(200);  // the buffered record is appended meanwhile
  o.checkpoint_interval = absl::Milliseconds(1);
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  const uint64_t written = (*chain)->EmitSeq(CallEvent(1));
  (void)(*chain)->EmitBuffered(CallEvent(2));  // never flushed before the "kill"
  // The syncer syncs and checkpoints (bounded wait on the condition).
  WaitUntil([&] { return !Lines(dir + "/checkpoints.jsonl").empty(); });
  const auto checkpoints = Lines(dir + "/checkpoints.jsonl");
  REQUIRE(checkpoints.size() == 1);
  CHECK(boost::json::parse(checkpoints[0]).as_object().at("seq").to_number<uint64_t>() == written);
  // What a kill -9 leaves now: the file without the buffered record, which no checkpoint claims.
  const std::string copy = TempDir();
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  const VerifyResult r = Verify(copy, {o.key});
  CHECK(r.ok);
  CHECK(r.records == 1);
  (*chain)->Close();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(copy);
}

// StrictOptions(): a chain in `dir` with the test key, acknowledging records once synced.
ChainOptions StrictOptions(const std::string& dir) {
  ChainOptions o;
  o.dir = dir;
  o.key = TestKey();
  o.sync = Sync::kStrict;
  return o;
}

TEST_CASE("strict sync acknowledges a record only once it is synced") {
  const std::string dir = TempDir();
  const ChainOptions o = StrictOptions(dir);
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  for (int i = 0; i < 3; ++i) {
    uint64_t seq = 0;
    const auto [ok, synced] = EmitAndWait(**chain, &seq);
    CHECK(ok);
    CHECK(synced >= seq);
  }
  (*chain)->Close();
  CHECK(Verify(dir, {o.key}).ok);
}

TEST_CASE("strict FlushAndSync writes and syncs on the caller, answering earlier waiters") {
  const std::string dir = TempDir();
  const ChainOptions o = StrictOptions(dir);
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  const uint64_t a = (*chain)->EmitBuffered(CallEvent(1));
  const uint64_t b = (*chain)->EmitBuffered(CallEvent(2));
  bool acked = false;
  (*chain)->WhenDurable(a, [&](bool ok) { acked = ok; });  // answered on this thread
  CHECK_FALSE(acked);
  REQUIRE((*chain)->FlushAndSync(b));
  // On return, not later: the caller made the sync (or waited for the one that covered it).
  CHECK((*chain)->synced_seq() >= b);
  CHECK((*chain)->durable_seq() >= b);
  CHECK(acked);
  CHECK(Lines(dir + "/chain.jsonl").size() == 2);
  CHECK((*chain)->FlushAndSync(a));  // already synced: no second sync needed
  (*chain)->Close();
  const VerifyResult r = Verify(dir, {o.key});
  CHECK(r.ok);
  CHECK(r.records == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("FlushAndSync for a synced record hands what it wrote besides to the syncer") {
  const std::string dir = TempDir();
  ChainOptions o = StrictOptions(dir);
  o.checkpoint_interval = absl::Hours(1);  // the syncer's idle wait: only a wake-up ends it
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  const uint64_t a = (*chain)->EmitBuffered(CallEvent(0));
  REQUIRE((*chain)->FlushAndSync(a));
  // Each round: a record through the syncer (which then goes idle), another caller's record
  // buffered, and a FlushAndSync() of the synced `a` that writes it and returns without
  // syncing: the syncer must be woken for it. Whether the syncer is idle yet when it is written
  // depends on timing; over the rounds it is, and then only a wake-up gets the record synced.
  for (int i = 1; i <= 50; ++i) {
    const uint64_t x = (*chain)->EmitSeq(CallEvent(i));
    std::promise<bool> x_ack;
    (*chain)->WhenDurable(x, [&](bool ok) { x_ack.set_value(ok); });
    REQUIRE(x_ack.get_future().get());
    const uint64_t b = (*chain)->EmitBuffered(CallEvent(1000 + i));
    REQUIRE((*chain)->FlushAndSync(a));
    std::promise<bool> ack;
    (*chain)->WhenDurable(b, [&](bool ok) { ack.set_value(ok); });
    auto acked = ack.get_future();
    REQUIRE(acked.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(acked.get());
  }
  (*chain)->Close();
  std::filesystem::remove_all(dir);
}

TEST_CASE("FlushAndSync from two threads and the syncer keeps one intact, synced chain") {
  const std::string dir = TempDir();
  const ChainOptions o = StrictOptions(dir);
  auto chain = Chain::Open(o);
  REQUIRE(chain.ok());
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  auto worker = [&](int base) {
    for (int i = 0; i < kPerThread; ++i) {
      // Half through the syncer (EmitSeq + WhenDurable), half synced on this thread.
      if (i % 2) {
        const uint64_t seq = (*chain)->EmitBuffered(CallEvent(base + i));
        if (!(*chain)->FlushAndSync(seq) || (*chain)->synced_seq() < seq) ++failures;
      } else {
        const uint64_t seq = (*chain)->EmitSeq(CallEvent(base + i));
        std::promise<bool> ack;
        (*chain)->WhenDurable(seq, [&](bool ok) { ack.set_value(ok); });
        if (!ack.get_future().get() || (*chain)->synced_seq() < seq) ++failures;
      }
    }
  };
  std::thread t1(worker, 0);
  std::thread t2(worker, 10'000);
  t1.join();
  t2.join();
  CHECK(failures.load() == 0);
  CHECK((*chain)->synced_seq() == 2 * kPerThread);
  (*chain)->Close();
  const VerifyResult r = Verify(dir, {o.key});
  CHECK(r.ok);
  CHECK(r.records == 2 * kPerThread);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an intact chain verifies, across a restart") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  WriteChain(dir, key, 5);  // reopened: continues seq and the MAC links
  const VerifyResult r = Verify(dir, {key});
  INFO(r.reason);
  CHECK(r.ok);
  CHECK(r.records == 15);
  CHECK(r.checkpoint_seq == 15);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a changed field is detected at its record") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  auto lines = Lines(dir + "/chain.jsonl");
  auto v = boost::json::parse(lines[4]);
  v.as_object()["detail"].as_object()["model"] = "up/gpt-4o";  // the auditor's nightmare
  lines[4] = boost::json::serialize(v);
  WriteLines(dir + "/chain.jsonl", lines);
  const VerifyResult r = Verify(dir, {key});
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_seq == 5);
  CHECK(r.reason.find("MAC mismatch") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a deleted record is detected where it is missing") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  auto lines = Lines(dir + "/chain.jsonl");
  lines.erase(lines.begin() + 3);  // seq 4
  WriteLines(dir + "/chain.jsonl", lines);
  const VerifyResult r = Verify(dir, {key});
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_seq == 4);
  std::filesystem::remove_all(dir);
}

TEST_CASE("two swapped records are detected at the first") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  auto lines = Lines(dir + "/chain.jsonl");
  std::swap(lines[2], lines[3]);  // seq 3 and 4
  WriteLines(dir + "/chain.jsonl", lines);
  const VerifyResult r = Verify(dir, {key});
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_seq == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a truncated tail is detected against the checkpoint (and not without one)") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  auto lines = Lines(dir + "/chain.jsonl");
  lines.resize(8);  // the newest two records removed
  WriteLines(dir + "/chain.jsonl", lines);
  const VerifyResult with = Verify(dir, {key});
  CHECK_FALSE(with.ok);
  CHECK(with.first_bad_seq == 9);
  CHECK(with.reason.find("removed from the end") != std::string::npos);
  // Without checkpoints, a consistent prefix is indistinguishable from a shorter chain: this
  // is why checkpoints exist (docs/audit.md, "Limits").
  std::filesystem::remove(dir + "/checkpoints.jsonl");
  const VerifyResult without = Verify(dir, {key});
  CHECK(without.ok);
  CHECK(without.records == 8);
  std::filesystem::remove_all(dir);
}

TEST_CASE("records re-MACed with another key are detected") {
  const std::string dir = TempDir();
  const Key key = TestKey('a');
  const Key other = TestKey('b');
  WriteChain(dir, key, 5);
  auto lines = Lines(dir + "/chain.jsonl");
  // An attacker rewrites record 3 and re-MACs from there with their own key, keeping key_id.
  std::string prev_mac;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto v = boost::json::parse(lines[i]).as_object();
    if (i >= 2) {
      v["prev_mac"] = prev_mac;
      if (i == 2) v["detail"].as_object()["i"] = 999;
      const std::string canonical = CanonicalRecord(
          v["seq"].to_number<uint64_t>(), std::string(v["time"].as_string()),
          v["source_seq"].to_number<uint64_t>(), std::string(v["type"].as_string()),
          std::string(v["namespace"].as_string()), std::string(v["agent"].as_string()),
          v["detail"].as_object(), std::string(v["key_id"].as_string()), prev_mac);
      v["mac"] = HmacHex(other.bytes, canonical);
      lines[i] = boost::json::serialize(v);
    }
    prev_mac = std::string(v["mac"].as_string());
  }
  WriteLines(dir + "/chain.jsonl", lines);
  std::filesystem::remove(dir + "/checkpoints.jsonl");
  const VerifyResult r = Verify(dir, {key});
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_seq == 3);
  // Signed with the other key under its own id: an unknown key to the verifier.
  const VerifyResult foreign = Verify(dir, {key, Key{key.id, other.bytes}});
  CHECK_FALSE(foreign.ok);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a torn final record is ignored by verify and removed on restart") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 4);
  std::ofstream(dir + "/chain.jsonl", std::ios::app) << "{\"seq\":5,\"time\":\"2026-";
  const VerifyResult torn = Verify(dir, {key});
  CHECK(torn.ok);
  CHECK(torn.torn_tail);
  CHECK(torn.records == 4);
  WriteChain(dir, key, 2);  // reopen: the torn bytes go, seq 5 and 6 follow seq 4
  const VerifyResult r = Verify(dir, {key});
  INFO(r.reason);
  CHECK(r.ok);
  CHECK_FALSE(r.torn_tail);
  CHECK(r.records == 6);
  std::filesystem::remove_all(dir);
}

TEST_CASE("queries filter by agent, type substrings and limit, newest last") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 12);
  Query q;
  q.agent = "coder";
  auto coder = ReadRecords(dir, q);
  REQUIRE(coder.ok());
  CHECK(coder->size() == 6);
  q.agent = "default/coder";
  q.types = {"tool", "BUDGET"};
  q.limit = 3;
  auto r = ReadRecords(dir, q);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  // Newest three of the coder's TOOL_CALL (i=1,7) and BUDGET_EXCEEDED (i=5,11) records.
  CHECK(r->at(0).at("detail").at("i").as_int64() == 5);
  CHECK(r->at(2).at("detail").at("i").as_int64() == 11);
  q = Query();
  q.since = absl::Now() + absl::Hours(1);
  CHECK(ReadRecords(dir, q)->empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("canonical encoding sorts detail members and ignores their order") {
  boost::json::object a, b;
  a["z"] = 1;
  a["a"] = boost::json::object{{"y", 2}, {"b", 3}};
  b["a"] = boost::json::object{{"b", 3}, {"y", 2}};
  b["z"] = 1;
  CHECK(CanonicalRecord(1, "t", 1, "LLM_CALL", "ns", "ag", a, "k", "") ==
        CanonicalRecord(1, "t", 1, "LLM_CALL", "ns", "ag", b, "k", ""));
  CHECK(CanonicalRecord(1, "t", 1, "LLM_CALL", "ns", "ag", a, "k", "")
            .find(R"("detail":{"a":{"b":3,"y":2},"z":1})") != std::string::npos);
}

// The canonical encoding of `detail` as first written (Boost.JSON's serializer for strings,
// keys and integers): chains written then must keep verifying.
void ReferenceCanonical(std::string& out, const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    std::vector<std::pair<std::string_view, const boost::json::value*>> members;
    for (const auto& kv : *o) members.emplace_back(kv.key(), &kv.value());
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) out += ',';
      out += boost::json::serialize(boost::json::string(members[i].first));
      out += ':';
      ReferenceCanonical(out, *members[i].second);
    }
    out += '}';
  } else if (const auto* a = v.if_array()) {
    out += '[';
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out += ',';
      ReferenceCanonical(out, (*a)[i]);
    }
    out += ']';
  } else if (v.is_double()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", v.as_double());
    out += buf;
  } else {
    out += boost::json::serialize(v);
  }
}

TEST_CASE("canonical detail encoding is byte for byte the Boost.JSON one of earlier chains") {
  boost::json::object detail;
  // Every byte, alone and inside text, as a value and as a key (control bytes, quotes,
  // backslashes, DEL, bytes that are not UTF-8).
  for (int c = 0; c < 256; ++c) {
    const std::string b(1, static_cast<char>(c));
    detail["b" + std::to_string(c)] = b;
    detail["k" + b] = "x" + b + "y";
  }
  detail["utf8"] = "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 \xc3";
  detail["ints"] = boost::json::array{0, -1, INT64_MAX, INT64_MIN, uint64_t{UINT64_MAX}};
  detail["doubles"] = boost::json::array{0.1, 1e300, -2.5e-7, 0.000125 * 7, 3.0};
  detail["nested"] = boost::json::object{{"z", true}, {"a", nullptr}, {"m", boost::json::array{}}};
  detail["empty"] = boost::json::object{};
  std::string expected =
      R"({"seq":7,"time":"2026-12-05T00:00:00.000Z","source":"gateway","source_seq":7,"type":"LLM_CALL","namespace":"default","agent":"coder","detail":)";
  ReferenceCanonical(expected, detail);
  expected += R"(,"key_id":"abcd1234","prev_mac":"ff"})";
  CHECK(CanonicalRecord(7, "2026-12-05T00:00:00.000Z", 7, "LLM_CALL", "default", "coder", detail,
                        "abcd1234", "ff") == expected);
}

TEST_CASE("reopening a chain checkpoints its recovered head, so a later truncation is detected") {
  // A crash between the records' fsync and their checkpoint: the newest records are covered
  // by no checkpoint (simulated by removing the final checkpoint line).
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 10);
  auto cps = Lines(dir + "/checkpoints.jsonl");
  REQUIRE(!cps.empty());
  cps.pop_back();
  WriteLines(dir + "/checkpoints.jsonl", cps);
  {
    ChainOptions o;
    o.dir = dir;
    o.key = key;
    auto chain = Chain::Open(o);  // the restart: no new records
    REQUIRE(chain.ok());
    (*chain)->Close();
  }
  CHECK(Verify(dir, {key}).checkpoint_seq == 10);
  auto lines = Lines(dir + "/chain.jsonl");
  lines.resize(7);  // the newest records of the crashed run removed
  WriteLines(dir + "/chain.jsonl", lines);
  const VerifyResult r = Verify(dir, {key});
  CHECK_FALSE(r.ok);
  CHECK(r.reason.find("removed from the end") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a clean close without new records still checkpoints the head") {
  const std::string dir = TempDir();
  const Key key = TestKey();
  WriteChain(dir, key, 4);
  const size_t before = Lines(dir + "/checkpoints.jsonl").size();
  {
    ChainOptions o;
    o.dir = dir;
    o.key = key;
    auto chain = Chain::Open(o);
    REQUIRE(chain.ok());
    (*chain)->Close();
  }
  const auto after = Lines(dir + "/checkpoints.jsonl");
  REQUIRE(after.size() >= before + 1);
  CHECK(boost::json::parse(after.back()).as_object().at("seq").to_number<uint64_t>() == 4);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pai::audit
