#include "server/store.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_util.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace pai::server {
namespace json = boost::json;

std::string Resource::uid() const {
  const json::value* v =
      object.contains("metadata") ? object.at("metadata").as_object().if_contains("uid") : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

namespace {
int64_t MetaInt(const json::object& o, const char* key) {
  const json::value* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return 0;
  const json::value* v = m->as_object().if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_string()) {
    int64_t out = 0;
    return absl::SimpleAtoi(std::string(v->as_string()), &out) ? out : 0;
  }
  return 0;
}
}  // namespace

int64_t Resource::generation() const { return MetaInt(object, "generation"); }
int64_t Resource::resource_version() const { return MetaInt(object, "resourceVersion"); }

std::string NewUid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

absl::Status CheckFileVersionLimit(const std::string& name, int64_t newest, int64_t max_versions) {
  if (newest < max_versions) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      pai::StrCat("PaiFile \"", name, "\" has ", newest,
                  " versions, the most kept; delete it and create it again"));
}

int64_t Base64DecodedSize(std::string_view data) {
  size_t pad = 0;
  if (!data.empty() && data.back() == '=') {
    pad = data.size() >= 2 && data[data.size() - 2] == '=' ? 2 : 1;
  }
  return static_cast<int64_t>(data.size() / 4 * 3 - pad);
}

std::vector<std::string> OwnerUids(const json::object& o) {
  std::vector<std::string> out;
  const json::value* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return out;
  const json::value* refs = m->as_object().if_contains("ownerReferences");
  if (!refs || !refs->is_array()) return out;
  for (const json::value& r : refs->as_array()) {
    if (!r.is_object()) continue;
    const json::value* u = r.as_object().if_contains("uid");
    if (u && u->is_string()) out.emplace_back(u->as_string());
  }
  return out;
}

std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

namespace {

// Stmt: a prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Stmt& Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kSchema = R"SQL(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA foreign_keys=OFF;
CREATE TABLE IF NOT EXISTS resources(
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  uid TEXT NOT NULL, object TEXT NOT NULL, private TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(kind, namespace, name));
CREATE TABLE IF NOT EXISTS owners(owner_uid TEXT NOT NULL, kind TEXT NOT NULL,
  namespace TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS owners_by_uid ON owners(owner_uid);
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES('resourceVersion', 0);
CREATE TABLE IF NOT EXISTS paifile_versions(namespace TEXT NOT NULL, name TEXT NOT NULL,
  version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, created TEXT NOT NULL,
  data TEXT NOT NULL, PRIMARY KEY(namespace, name, version));
CREATE TABLE IF NOT EXISTS gateway_identities(id TEXT PRIMARY KEY, namespace TEXT NOT NULL,
  agent TEXT NOT NULL, agent_uid TEXT NOT NULL, purpose TEXT NOT NULL, token TEXT NOT NULL,
  created TEXT NOT NULL, revoked TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS events(namespace TEXT NOT NULL, session TEXT NOT NULL,
  sequence INTEGER NOT NULL, type TEXT NOT NULL, processed_at TEXT, body TEXT NOT NULL,
  PRIMARY KEY(namespace, session, sequence));
CREATE TABLE IF NOT EXISTS webhooks(token TEXT PRIMARY KEY, namespace TEXT NOT NULL,
  agent TEXT NOT NULL, agent_uid TEXT NOT NULL);
)SQL";

json::object& Meta(json::object& o) {
  json::value& m = o["metadata"];
  if (!m.is_object()) m = json::object();
  return m.as_object();
}

// SpecOf(): what `generation` follows: spec, or for kinds without one (Secret) the data.
std::string SpecOf(const Resource& r) {
  if (const json::value* s = r.object.if_contains("spec")) return json::serialize(*s);
  std::string out;
  for (const char* k : {"data", "keys", "type"}) {
    if (const json::value* v = r.object.if_contains(k)) out += json::serialize(*v);
  }
  return out + r.private_data;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, const Clock* clock, bool events_only)
      : db_(db), clock_(clock), events_only_(events_only) {
    Stmt s(db_, "SELECT value FROM counters WHERE name='resourceVersion'");
    if (s.Step() == SQLITE_ROW) version_ = s.Int(0);
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  absl::StatusOr<Resource> Get(const std::string& kind, const std::string& ns,
                               const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    return GetLocked(kind, ns, name);
  }

  absl::StatusOr<std::vector<Resource>> List(const std::string& kind, const std::string& ns,
                                             Scope scope) override {
    std::lock_guard<std::mutex> lock(mu_);
    const bool all = scope == Scope::kAllNamespaces;
    Stmt s(db_, all ? "SELECT namespace, name, object, private FROM resources WHERE kind=?1 "
                      "ORDER BY namespace, name"
                    : "SELECT namespace, name, object, private FROM resources WHERE kind=?1 "
                      "AND namespace=?2 ORDER BY name");
    s.Bind(1, kind);
    if (!all) s.Bind(2, ns);
    std::vector<Resource> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto r = Decode(kind, s.Text(0), s.Text(1), s.Text(2), s.Text(3));
      if (!r.ok()) return r.status();
      out.push_back(std::move(*r));
    }
    if (rc != SQLITE_DONE) return Error("list");
    return out;
  }

  absl::StatusOr<Resource> Create(Resource r) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (GetLocked(r.kind, r.ns, r.name).ok()) {
      return absl::AlreadyExistsError(pai::StrCat(r.kind, " \"", r.name, "\" already exists"));
    }
    PAI_RETURN_IF_ERROR(InsertLocked(r));
    return r;
  }

  absl::StatusOr<PutResult> Put(Resource r, std::optional<int64_t> expected) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto old = GetLocked(r.kind, r.ns, r.name);
    if (!old.ok() && !absl::IsNotFound(old.status())) return old.status();
    if (!old.ok()) {
      if (expected) {
        return absl::NotFoundError(pai::StrCat(r.kind, " \"", r.name,
                                               "\" does not exist (a conditional update needs "
                                               "an existing object)"));
      }
      PAI_RETURN_IF_ERROR(InsertLocked(r));
      return PutResult{std::move(r), true};
    }
    if (expected && *expected != old->resource_version()) {
      return absl::AbortedError(pai::StrCat("the object has been modified: resourceVersion ",
                                            *expected, " is not the current ",
                                            old->resource_version(), "; read it again and retry"));
    }
    json::object& meta = Meta(r.object);
    const json::object& old_meta = old->object.at("metadata").as_object();
    meta["uid"] = old_meta.at("uid");
    meta["creationTimestamp"] = old_meta.at("creationTimestamp");
    const bool spec_changed = SpecOf(r) != SpecOf(*old);
    meta["generation"] = old->generation() + (spec_changed ? 1 : 0);
    if (const json::value* st = old->object.if_contains("status")) {
      r.object["status"] = *st;
    } else {
      r.object.erase("status");
    }
    if (!spec_changed && Comparable(r.object) == Comparable(old->object) &&
        r.private_data == old->private_data) {
      return PutResult{std::move(*old), false};  // nothing changed: no new resourceVersion
    }
    PAI_RETURN_IF_ERROR(Transaction([&] { return WriteLocked(r, false); }));
    return PutResult{std::move(r), false};
  }

  absl::Status UpdateStatus(const std::string& kind, const std::string& ns, const std::string& name,
                            const std::string& expected_uid, const json::object& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto old = GetLocked(kind, ns, name);
    if (!old.ok()) return old.status();
    if (!expected_uid.empty() && old->uid() != expected_uid) {
      return absl::AbortedError("the object was deleted and created again");
    }
    old->object["status"] = status;
    return Transaction([&] { return WriteLocked(*old, false); });
  }

  absl::StatusOr<std::vector<Resource>> Delete(const std::string& kind, const std::string& ns,
                                               const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto root = GetLocked(kind, ns, name);
    if (!root.ok()) return root.status();
    PAI_RETURN_IF_ERROR(Begin());
    std::vector<Resource> deleted;
    std::vector<Resource> queue{*root};
    std::set<std::string> seen;
    while (!queue.empty()) {
      Resource r = std::move(queue.back());
      queue.pop_back();
      if (!seen.insert(r.uid()).second) continue;
      // Dependents first found, deleted with it (Kubernetes' background cascade, done at once).
      // Only dependents of the owner's own namespace (an ownerReference never reaches across).
      Stmt dep(db_, "SELECT kind, namespace, name FROM owners WHERE owner_uid=?1 AND namespace=?2");
      dep.Bind(1, r.uid()).Bind(2, r.ns);
      while (dep.Step() == SQLITE_ROW) {
        auto child = GetLocked(dep.Text(0), dep.Text(1), dep.Text(2));
        if (child.ok()) queue.push_back(std::move(*child));
      }
      Stmt del(db_, "DELETE FROM resources WHERE kind=?1 AND namespace=?2 AND name=?3");
      del.Bind(1, r.kind).Bind(2, r.ns).Bind(3, r.name);
      Stmt delo(db_, "DELETE FROM owners WHERE kind=?1 AND namespace=?2 AND name=?3");
      delo.Bind(1, r.kind).Bind(2, r.ns).Bind(3, r.name);
      if (r.kind == "PaiFile") {
        Stmt delv(db_, "DELETE FROM paifile_versions WHERE namespace=?1 AND name=?2");
        delv.Bind(1, r.ns).Bind(2, r.name);
        (void)delv.Step();
      }
      if (r.kind == "Session") {
        Stmt dele(db_, "DELETE FROM events WHERE namespace=?1 AND session=?2");
        dele.Bind(1, r.ns).Bind(2, r.name);
        (void)dele.Step();
      }
      if (del.Step() != SQLITE_DONE || delo.Step() != SQLITE_DONE) {
        Rollback();
        return Error("delete");
      }
      deleted.push_back(std::move(r));
    }
    absl::Status s = BumpVersion().status();
    if (!s.ok()) {
      Rollback();
      return s;
    }
    PAI_RETURN_IF_ERROR(Commit());
    return deleted;
  }

  absl::StatusOr<std::vector<std::string>> Namespaces() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT DISTINCT namespace FROM resources WHERE namespace != '' ORDER BY 1");
    std::vector<std::string> out;
    while (s.Step() == SQLITE_ROW) out.push_back(s.Text(0));
    return out;
  }

  absl::Status AddIdentity(const GatewayIdentity& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "INSERT INTO gateway_identities(id, namespace, agent, agent_uid, purpose, token, "
           "created, revoked) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
    s.Bind(1, id.id).Bind(2, id.ns).Bind(3, id.agent).Bind(4, id.agent_uid).Bind(5, id.purpose);
    s.Bind(6, id.token).Bind(7, id.created).Bind(8, id.revoked);
    if (s.Step() != SQLITE_DONE) return Error("add identity");
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<GatewayIdentity>> Identities() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT id, namespace, agent, agent_uid, purpose, token, created, revoked FROM "
           "gateway_identities ORDER BY created, id");
    std::vector<GatewayIdentity> out;
    while (s.Step() == SQLITE_ROW) {
      out.push_back(
          {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6), s.Text(7)});
    }
    return out;
  }

  absl::Status MarkIdentityRevoked(const std::string& id, const std::string& when) override {
    std::lock_guard<std::mutex> lock(mu_);
    // The plaintext of a revoked identity is of no further use: drop it.
    Stmt s(db_, "UPDATE gateway_identities SET revoked=?2, token='' WHERE id=?1");
    s.Bind(1, id).Bind(2, when);
    if (s.Step() != SQLITE_DONE) return Error("revoke identity");
    if (sqlite3_changes(db_) == 0) return absl::NotFoundError("no such gateway token");
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> AppendFileVersion(const std::string& ns, const std::string& name,
                                            const std::string& data,
                                            int64_t max_versions) override {
    std::lock_guard<std::mutex> lock(mu_);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    const std::string sha = HexEncode(digest, sizeof digest);
    Stmt last(db_,
              "SELECT version, sha256 FROM paifile_versions WHERE namespace=?1 AND name=?2 "
              "ORDER BY version DESC LIMIT 1");
    last.Bind(1, ns).Bind(2, name);
    int64_t newest = 0;
    if (last.Step() == SQLITE_ROW) {
      newest = last.Int(0);
      if (last.Text(1) == sha) return newest;
    }
    PAI_RETURN_IF_ERROR(CheckFileVersionLimit(name, newest, max_versions));
    Stmt ins(db_,
             "INSERT INTO paifile_versions(namespace, name, version, sha256, size, created, data) "
             "VALUES(?1,?2,?3,?4,?5,?6,?7)");
    ins.Bind(1, ns).Bind(2, name).Bind(3, newest + 1).Bind(4, sha);
    ins.Bind(5, Base64DecodedSize(data)).Bind(6, NowRfc3339()).Bind(7, data);
    if (ins.Step() != SQLITE_DONE) return Error("file version");
    ++version_;  // a status-worthy change: wake the controller
    Stmt bump(db_, "UPDATE counters SET value=?1 WHERE name='resourceVersion'");
    bump.Bind(1, version_);
    (void)bump.Step();
    changed_.notify_all();
    return newest + 1;
  }

  absl::StatusOr<std::vector<FileVersion>> FileVersions(const std::string& ns,
                                                        const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT version, sha256, size, created FROM paifile_versions WHERE namespace=?1 AND "
           "name=?2 ORDER BY version");
    s.Bind(1, ns).Bind(2, name);
    std::vector<FileVersion> out;
    while (s.Step() == SQLITE_ROW) out.push_back({s.Int(0), s.Text(1), s.Int(2), s.Text(3)});
    return out;
  }

  absl::StatusOr<std::string> FileVersionData(const std::string& ns, const std::string& name,
                                              int64_t version) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT data FROM paifile_versions WHERE namespace=?1 AND name=?2 AND version=?3");
    s.Bind(1, ns).Bind(2, name).Bind(3, version);
    if (s.Step() != SQLITE_ROW) {
      return absl::NotFoundError(pai::StrCat("PaiFile \"", name, "\" has no version ", version));
    }
    return s.Text(0);
  }

  absl::StatusOr<std::vector<json::object>> AppendEvents(const std::string& ns,
                                                         const std::string& session,
                                                         std::vector<json::object> events,
                                                         const std::string& now) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Only for a Session that exists (a deleted one's late events must not reach a new one);
    // an events-only store's caller checks that itself.
    if (!events_only_ && !GetLocked("Session", ns, session).ok()) {
      return absl::NotFoundError(pai::StrCat("Session \"", session, "\" not found"));
    }
    Stmt last(db_,
              "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE namespace=?1 AND session=?2");
    last.Bind(1, ns).Bind(2, session);
    if (last.Step() != SQLITE_ROW) return Error("events");
    int64_t seq = last.Int(0);
    PAI_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    for (json::object& e : events) {
      ++seq;
      const std::string type = e.contains("type") && e.at("type").is_string()
                                   ? std::string(e.at("type").as_string())
                                   : "";
      e.erase("processed_at");
      json::object out;
      out["id"] = absl::StrFormat("sevt_%012d", seq);
      out["sequence"] = seq;
      out["type"] = type;
      for (auto& [k, v] : e) {
        if (k != "id" && k != "sequence" && k != "type" && k != "created_at") out[k] = v;
      }
      out["created_at"] = now;
      Stmt ins(db_,
               "INSERT INTO events(namespace, session, sequence, type, processed_at, body) "
               "VALUES(?1,?2,?3,?4,NULL,?5)");
      ins.Bind(1, ns).Bind(2, session).Bind(3, seq).Bind(4, type).Bind(5, json::serialize(out));
      if (ins.Step() != SQLITE_DONE) {
        (void)Exec("ROLLBACK");
        return Error("append event");
      }
      if (type.rfind("user.", 0) == 0) out["processed_at"] = nullptr;
      e = std::move(out);
    }
    if (absl::Status c = Exec("COMMIT"); !c.ok()) {
      (void)Exec("ROLLBACK");
      return c;
    }
    return events;
  }

  absl::StatusOr<std::vector<json::object>> ListEvents(const std::string& ns,
                                                       const std::string& session, int64_t after,
                                                       const std::vector<std::string>& types,
                                                       int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<json::object> out;
    Stmt s(db_,
           "SELECT type, processed_at, body FROM events WHERE namespace=?1 AND session=?2 "
           "AND sequence > ?3 ORDER BY sequence");
    s.Bind(1, ns).Bind(2, session).Bind(3, after);
    while (s.Step() == SQLITE_ROW && static_cast<int64_t>(out.size()) < limit) {
      const std::string type = s.Text(0);
      if (!types.empty() && std::find(types.begin(), types.end(), type) == types.end()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(s.Text(2), ec);
      if (ec || !v.is_object()) continue;
      json::object o = std::move(v.as_object());
      if (type.rfind("user.", 0) == 0) {
        const std::string p = s.Text(1);
        o["processed_at"] = p.empty() ? json::value(nullptr) : json::value(p);
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  absl::Status MarkEventProcessed(const std::string& ns, const std::string& session,
                                  const std::string& event_id, const std::string& when) override {
    int64_t seq = 0;
    if (event_id.rfind("sevt_", 0) != 0 || !absl::SimpleAtoi(event_id.substr(5), &seq)) {
      return absl::NotFoundError(pai::StrCat("no event ", event_id));
    }
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "UPDATE events SET processed_at=?4 WHERE namespace=?1 AND session=?2 AND "
           "sequence=?3 AND processed_at IS NULL");
    s.Bind(1, ns).Bind(2, session).Bind(3, seq).Bind(4, when);
    if (s.Step() != SQLITE_DONE) return Error("mark processed");
    return absl::OkStatus();
  }

  absl::Status DeleteEvents(const std::string& ns, const std::string& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM events WHERE namespace=?1 AND session=?2");
    s.Bind(1, ns).Bind(2, session);
    if (s.Step() != SQLITE_DONE) return Error("delete events");
    return absl::OkStatus();
  }

  absl::Status AddWebhook(const Webhook& w) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "INSERT INTO webhooks(token, namespace, agent, agent_uid) VALUES(?1,?2,?3,?4)");
    s.Bind(1, w.token).Bind(2, w.ns).Bind(3, w.agent).Bind(4, w.agent_uid);
    if (s.Step() != SQLITE_DONE) return Error("add webhook");
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Webhook>> Webhooks() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT token, namespace, agent, agent_uid FROM webhooks ORDER BY namespace, agent");
    std::vector<Webhook> out;
    while (s.Step() == SQLITE_ROW) out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3)});
    return out;
  }

  absl::Status DeleteWebhook(const std::string& token) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM webhooks WHERE token=?1");
    s.Bind(1, token);
    if (s.Step() != SQLITE_DONE) return Error("delete webhook");
    return absl::OkStatus();
  }

  int64_t Version() override {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }

  int64_t WaitForChange(int64_t seen, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return version_ > seen; });
    return version_;
  }

 private:
  absl::Status Error(const char* what) {
    return absl::InternalError(pai::StrCat("store: ", what, ": ", sqlite3_errmsg(db_)));
  }
  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown";
      sqlite3_free(err);
      return absl::InternalError(pai::StrCat("store: ", m));
    }
    return absl::OkStatus();
  }
  absl::Status Begin() {
    pending_version_ = version_;
    return Exec("BEGIN IMMEDIATE");
  }
  absl::Status Commit() {
    PAI_RETURN_IF_ERROR(Exec("COMMIT"));
    version_ = pending_version_;
    changed_.notify_all();
    return absl::OkStatus();
  }
  void Rollback() {
    (void)Exec("ROLLBACK");
    pending_version_ = version_;
  }

  // Transaction(): runs `write` inside BEGIN IMMEDIATE ... COMMIT, rolled back on error.
  template <typename Fn>
  absl::Status Transaction(Fn write) {
    PAI_RETURN_IF_ERROR(Begin());
    if (absl::Status s = write(); !s.ok()) {
      Rollback();
      return s;
    }
    return Commit();
  }

  // InsertLocked(): a new object: uid, generation 1, creationTimestamp, no status.
  absl::Status InsertLocked(Resource& r) {
    r.object.erase("status");
    json::object& meta = Meta(r.object);
    meta["uid"] = NewUid();
    meta["generation"] = 1;
    meta["creationTimestamp"] = clock_ ? Rfc3339(clock_->Now()) : NowRfc3339();
    return Transaction([&] { return WriteLocked(r, /*insert=*/true); });
  }

  absl::StatusOr<int64_t> BumpVersion() {
    Stmt s(db_, "UPDATE counters SET value=value+1 WHERE name='resourceVersion'");
    if (s.Step() != SQLITE_DONE) return Error("version");
    return ++pending_version_;
  }

  // Comparable(): the object without the fields a write sets itself.
  static std::string Comparable(json::object o) {
    if (json::value* m = o.if_contains("metadata"); m && m->is_object()) {
      m->as_object().erase("resourceVersion");
      m->as_object().erase("generation");
    }
    o.erase("status");
    return json::serialize(o);
  }

  absl::Status WriteLocked(Resource& r, bool insert) {
    auto v = BumpVersion();
    if (!v.ok()) return v.status();
    json::object& meta = Meta(r.object);
    meta["resourceVersion"] = std::to_string(*v);
    meta["name"] = r.name;
    if (!r.ns.empty()) meta["namespace"] = r.ns;
    const std::string text = json::serialize(r.object);
    Stmt s(db_, insert ? "INSERT INTO resources(kind, namespace, name, uid, object, private) "
                         "VALUES(?1,?2,?3,?4,?5,?6)"
                       : "UPDATE resources SET uid=?4, object=?5, private=?6 WHERE kind=?1 AND "
                         "namespace=?2 AND name=?3");
    s.Bind(1, r.kind).Bind(2, r.ns).Bind(3, r.name).Bind(4, r.uid()).Bind(5, text);
    s.Bind(6, r.private_data);
    if (s.Step() != SQLITE_DONE) return Error("write");
    Stmt delo(db_, "DELETE FROM owners WHERE kind=?1 AND namespace=?2 AND name=?3");
    delo.Bind(1, r.kind).Bind(2, r.ns).Bind(3, r.name);
    if (delo.Step() != SQLITE_DONE) return Error("owners");
    for (const std::string& owner : OwnerUids(r.object)) {
      Stmt o(db_, "INSERT INTO owners(owner_uid, kind, namespace, name) VALUES(?1,?2,?3,?4)");
      o.Bind(1, owner).Bind(2, r.kind).Bind(3, r.ns).Bind(4, r.name);
      if (o.Step() != SQLITE_DONE) return Error("owners");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Resource> GetLocked(const std::string& kind, const std::string& ns,
                                     const std::string& name) {
    Stmt s(db_, "SELECT object, private FROM resources WHERE kind=?1 AND namespace=?2 AND name=?3");
    s.Bind(1, kind).Bind(2, ns).Bind(3, name);
    const int rc = s.Step();
    if (rc == SQLITE_DONE) {
      return absl::NotFoundError(pai::StrCat(kind, " \"", name, "\" not found"));
    }
    if (rc != SQLITE_ROW) return Error("get");
    return Decode(kind, ns, name, s.Text(0), s.Text(1));
  }

  static absl::StatusOr<Resource> Decode(const std::string& kind, const std::string& ns,
                                         const std::string& name, const std::string& text,
                                         const std::string& priv) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
      return absl::DataLossError(
          pai::StrCat("store: ", kind, " ", ns, "/", name, " is not a JSON object"));
    }
    return Resource{kind, ns, name, std::move(v.as_object()), priv};
  }

  sqlite3* db_;
  const Clock* clock_;  // null: real time
  bool events_only_;    // AppendEvents() does not look for the Session (the caller did)
  std::mutex mu_;
  std::condition_variable changed_;
  int64_t version_ = 0;
  int64_t pending_version_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const Clock* clock,
                                                       bool events_only) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError(pai::StrCat("cannot open ", path, ": ", m));
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown";
    sqlite3_free(err);
    sqlite3_close(db);
    return absl::InternalError(pai::StrCat("cannot initialise ", path, ": ", m));
  }
  return std::unique_ptr<Store>(new SqliteStore(db, clock, events_only));
}

}  // namespace pai::server
