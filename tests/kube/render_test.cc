#include "kube/render.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace pai::kube {
namespace {

namespace json = boost::json;

server::Workload Session() {
  server::Workload w;
  w.kind = "Session";
  w.ns = "team-a";
  w.name = "fix-bug";
  w.agent = "coder";
  w.uid = "6c0f3b4e-1111-2222-3333-444455556666";
  w.gateway_token = "pai_0123456789abcdef_s3cr3t-token-value";
  w.spec = json::parse(R"({"models": ["mock/m"],
      "env": [{"name": "WEBHOOK", "secretRef": {"name": "hooks", "key": "url"}}],
      "volumes": [{"name": "workspace", "mountPath": "/workspace"}]})")
               .as_object();
  // What the controller resolved: the secret's value and the creator's variable.
  w.env = {{"WEBHOOK", "https://hooks.example/very-secret"}, {"GIT_AUTHOR_NAME", "Ada"}};
  w.session = json::object{{"agent", "coder"}, {"task", "fix it"}};
  return w;
}

const json::object& Find(const std::vector<json::value>& objs, std::string_view kind) {
  for (const json::value& o : objs) {
    if (o.at("kind").as_string() == kind) return o.as_object();
  }
  FAIL("no " << kind);
  throw std::logic_error("unreachable");
}

TEST_CASE(
    "render: secrets are referenced and never copied and the token lives only in its Secret") {
  auto objs = RenderWorkload(Session(), RenderOptions{"img", "http://gw:4000"});
  REQUIRE(objs.ok());
  const json::object& job = Find(*objs, "Job");
  const std::string pod = json::serialize(job.at("spec").at("template"));
  CHECK(pod.find("very-secret") == std::string::npos);
  CHECK(pod.find("s3cr3t-token-value") == std::string::npos);
  CHECK(
      pod.find(R"({"name":"WEBHOOK","valueFrom":{"secretKeyRef":{"name":"hooks","key":"url"}}})") !=
      std::string::npos);
  CHECK(pod.find(R"({"name":"GIT_AUTHOR_NAME","value":"Ada"})") != std::string::npos);
  const json::object& secret = Find(*objs, "Secret");
  CHECK(secret.at("stringData").at("token") == "pai_0123456789abcdef_s3cr3t-token-value");
  CHECK(secret.at("metadata").at("name") == "session-fix-bug-identity");
}

TEST_CASE("render: with an owner, the identity Secret is the root, or is owned by the resource") {
  RenderOptions o{"img", "http://gw:4000"};
  o.owner = Owner{"v1", "Secret", "session-fix-bug-identity", "secret-uid"};
  auto objs = RenderWorkload(Session(), o);
  REQUIRE(objs.ok());
  CHECK_FALSE(Find(*objs, "Secret").at("metadata").as_object().contains("ownerReferences"));
  CHECK(Find(*objs, "Job").at("metadata").at("ownerReferences").at(0).at("uid") == "secret-uid");

  o.identity_owned_by_resource = true;  // the Kubernetes store: the Session is a custom resource
  objs = RenderWorkload(Session(), o);
  REQUIRE(objs.ok());
  const json::value& ref = Find(*objs, "Secret").at("metadata").at("ownerReferences").at(0);
  CHECK(ref.at("apiVersion") == "pai.io/v1");
  CHECK(ref.at("kind") == "Session");
  CHECK(ref.at("uid") == "6c0f3b4e-1111-2222-3333-444455556666");
  CHECK(ref.at("controller") == true);
  CHECK(Find(*objs, "Job").at("metadata").at("ownerReferences").at(0).at("uid") == "secret-uid");
}

TEST_CASE("render: a file that is not UTF-8 goes to binaryData, base64") {
  server::Workload w = Session();
  w.files.push_back({"/data/blob.bin", std::string("\x00\xff\xfe", 3), true, false});
  w.files.push_back({"/data/notes.txt", "caf\xc3\xa9", true, false});
  auto objs = RenderWorkload(w, RenderOptions{"img", "http://gw:4000"});
  REQUIRE(objs.ok());
  const json::object& cm = Find(*objs, "ConfigMap");
  CHECK(cm.at("binaryData").at("f0") == "AP/+");
  CHECK(cm.at("data").at("f1") == "caf\xc3\xa9");
}

TEST_CASE("render: refusals name the field") {
  server::Workload w = Session();
  w.spec["runAsUser"] = 0;
  CHECK(RenderWorkload(w, {}).status().message() == "spec.runAsUser: 0 (root) is refused");
  w = Session();
  w.spec["volumes"] = json::parse(R"([{"name": "v", "mountPath": "data"}])");
  CHECK(RenderWorkload(w, {}).status().message() ==
        "spec.volumes[0].mountPath: absolute path required");
  w = Session();
  w.files.push_back({"relative.txt", "x", true, false});
  CHECK_FALSE(RenderWorkload(w, {}).ok());
  w = Session();
  w.kind = "Skill";
  CHECK_FALSE(RenderWorkload(w, {}).ok());
}

}  // namespace
}  // namespace pai::kube
