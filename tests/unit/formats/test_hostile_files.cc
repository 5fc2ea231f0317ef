// Hostile files (issue 20): external data confined to the model's directory, inputs that are
// FIFOs or devices refused without blocking, outputs that never replace a non-regular file,
// temporary files cleaned on signals and when stale, manifests checked before trusting them.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "formats/atomic_file.h"
#include "formats/input_file.h"
#include "formats/manifest_io.h"
#include "formats/onnx_load.h"
#include "formats/onnx_save.h"
#include "formats/temp_files.h"
#include "ir/verifier.h"
#include "tests/unit/formats/format_test_util.h"

using namespace ember;
using namespace ember::formats;
using ember::test::TempDir;
using ember::test::write_bytes;

namespace {

std::string error_of(const Result<InputFile>& r) { return r.ok() ? std::string("(accepted)") : r.status().message(); }

// A model whose only initializer 'w' is external data in `data_name`, saved in dir/model.onnx.
void save_external_model(const std::string& dir) {
  ir::Model m;
  m.ir_version = 8;
  m.opset_imports.push_back({"", 17});
  m.graph.set_initializer("w", Tensor::from_vector<float>({256}, std::vector<float>(256, 1.0f)));
  m.graph.nodes.push_back(ir::make_node("Identity", "id", {"w"}, {"y"}));
  ir::ValueInfo y;
  y.name = "y";
  y.elem_type = DType::kF32;
  m.graph.outputs.push_back(y);
  SaveOptions options;
  options.external_data = true;
  options.external_data_name = "model.data";
  REQUIRE(save_onnx(m, dir + "/model.onnx", options).ok());
}

size_t temporaries_in(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    n += e.path().filename().string().find(".ember-tmp-") != std::string::npos;
  }
  return n;
}

}  // namespace

TEST_CASE("open_confined refuses '..', absolute paths, links leading out and non-regular files") {
  TempDir tmp;
  const std::string models = tmp.file("models"), outside = tmp.file("outside");
  std::filesystem::create_directories(models + "/sub");
  std::filesystem::create_directories(outside);
  write_bytes(outside + "/secret.bin", "secret");
  write_bytes(models + "/sub/ok.bin", "fine");
  std::filesystem::create_symlink(outside + "/secret.bin", models + "/out.bin");
  std::filesystem::create_symlink("sub/ok.bin", models + "/in.bin");
  REQUIRE(mkfifo((models + "/fifo.bin").c_str(), 0600) == 0);

  CHECK(error_of(open_confined(models, "../outside/secret.bin", "t")).find("'..'") != std::string::npos);
  CHECK(error_of(open_confined(models, "sub/../../outside/secret.bin", "t")).find("'..'") != std::string::npos);
  CHECK(error_of(open_confined(models, outside + "/secret.bin", "t")).find("absolute path") != std::string::npos);
  CHECK(error_of(open_confined(models, "/etc/passwd", "t")).find("absolute path") != std::string::npos);
  CHECK(error_of(open_confined(models, "out.bin", "t")).find("outside the model's directory") != std::string::npos);
  CHECK(error_of(open_confined(models, "fifo.bin", "t")).find("FIFO") != std::string::npos);
  CHECK(error_of(open_confined(models, "sub", "t")).find("directory") != std::string::npos);
  CHECK(error_of(open_confined(models, std::string("a\0b", 3), "t")).find("NUL") != std::string::npos);
  CHECK(error_of(open_confined(models, "", "t")).find("empty") != std::string::npos);
  // Inside the directory, directly or through a link that stays inside: accepted.
  auto direct = open_confined(models, "sub/ok.bin", "t");
  REQUIRE(direct.ok());
  CHECK(direct->size() == 4);
  CHECK(open_confined(models, "in.bin", "t").ok());
  CHECK(open_confined(models, "./sub/ok.bin", "t").ok());
  CHECK(check_relative_location("a..b/c..", "t").ok());  // '..' only as a whole component
}

TEST_CASE("the ONNX loader reads external data only from inside the model's directory") {
  TempDir tmp;
  save_external_model(tmp.path());
  REQUIRE(load_onnx(tmp.file("model.onnx")).ok());
  // Move the data out and leave a symlink to it: the model now points outside its folder.
  std::filesystem::create_directories(tmp.file("elsewhere"));
  std::filesystem::create_directories(tmp.file("dir"));
  std::filesystem::rename(tmp.file("model.data"), tmp.file("elsewhere/model.data"));
  std::filesystem::copy_file(tmp.file("model.onnx"), tmp.file("dir/model.onnx"));
  std::filesystem::create_symlink(tmp.file("elsewhere/model.data"), tmp.file("dir/model.data"));
  auto escaped = load_onnx(tmp.file("dir/model.onnx"));
  REQUIRE_FALSE(escaped.ok());
  CHECK(escaped.status().code() == StatusCode::kInvalidInput);
  CHECK(escaped.status().message().find("tensor 'w'") != std::string::npos);
  CHECK(escaped.status().message().find("model.data") != std::string::npos);
}

TEST_CASE("inputs that are FIFOs or devices are refused at once") {
  TempDir tmp;
  REQUIRE(mkfifo(tmp.file("fifo").c_str(), 0600) == 0);
  auto fifo = open_input_file(tmp.file("fifo"));  // would block forever without O_NONBLOCK
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.status().message().find("FIFO") != std::string::npos);
  CHECK(error_of(open_input_file("/dev/zero")).find("device") != std::string::npos);
  CHECK_FALSE(read_manifest("/dev/zero").ok());
  CHECK_FALSE(read_manifest(tmp.file("fifo")).ok());
  CHECK_FALSE(load_onnx(tmp.file("fifo")).ok());
  // Size is checked before reading.
  write_bytes(tmp.file("big.txt"), std::string(100, 'x'));
  auto big = read_input_file(tmp.file("big.txt"), 99);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message().find("100 bytes") != std::string::npos);
  CHECK(read_input_file(tmp.file("big.txt"), 100).ok());
}

TEST_CASE("atomic writes never replace a FIFO, a symlink or a device") {
  TempDir tmp;
  REQUIRE(mkfifo(tmp.file("fifo").c_str(), 0600) == 0);
  write_bytes(tmp.file("target"), "keep");
  std::filesystem::create_symlink(tmp.file("target"), tmp.file("link"));
  for (const char* name : {"fifo", "link"}) {
    CAPTURE(name);
    Status st = write_string_atomic(tmp.file(name), "new");
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("not a regular file") != std::string::npos);
  }
  struct stat st {};
  REQUIRE(lstat(tmp.file("fifo").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  REQUIRE(lstat(tmp.file("link").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(ember::test::read_bytes(tmp.file("target")) == "keep");
  CHECK(write_string_atomic(tmp.file("target"), "new").ok());  // regular files are replaced
  CHECK(ember::test::read_bytes(tmp.file("target")) == "new");
  CHECK(temporaries_in(tmp.path()) == 0);
}

TEST_CASE("check_output_path refuses, before any work, what write_file_atomic would refuse") {
  TempDir tmp;
  REQUIRE(mkfifo(tmp.file("fifo").c_str(), 0600) == 0);
  write_bytes(tmp.file("file"), "x");
  CHECK(check_output_path(tmp.file("new.onnx")).ok());
  CHECK(check_output_path(tmp.file("file")).ok());  // a regular file is replaced
  const auto refused = [](const std::string& path, const std::string& why) {
    CAPTURE(path);
    const Status st = check_output_path(path);
    CHECK(st.code() == StatusCode::kInvalidInput);
    CHECK_MESSAGE(st.message().find(why) != std::string::npos, st.message());
    CHECK(st.message().find(path) != std::string::npos);
  };
  refused(tmp.file("missing/out.onnx"), "No such file or directory");
  refused(tmp.file("file/out.onnx"), "is not a folder");
  refused(tmp.path(), "it is a directory");
  refused(tmp.file("fifo"), "not a regular file");
  CHECK(!check_output_path("").ok());
  if (geteuid() != 0) {  // root writes anywhere
    REQUIRE(chmod(tmp.path().c_str(), 0500) == 0);
    refused(tmp.file("new.onnx"), "Permission denied");
    chmod(tmp.path().c_str(), 0700);
  }
}

TEST_CASE("stale temporary files of dead processes are removed, live ones kept") {
  TempDir tmp;
  const std::string target = tmp.file("out.onnx");
  write_bytes(target + ".ember-tmp-999999999-AbCdEf", "stale");
  write_bytes(target + ".ember-tmp-" + std::to_string(getppid()) + "-AbCdEf", "live");
  write_bytes(target + ".ember-tmp-junk", "not ours");
  write_bytes(tmp.file("other.onnx.ember-tmp-999999999-AbCdEf"), "another target");
  CHECK(remove_stale_temporaries(target) == 1);
  CHECK_FALSE(std::filesystem::exists(target + ".ember-tmp-999999999-AbCdEf"));
  CHECK(std::filesystem::exists(target + ".ember-tmp-" + std::to_string(getppid()) + "-AbCdEf"));
  CHECK(std::filesystem::exists(target + ".ember-tmp-junk"));
  CHECK(std::filesystem::exists(tmp.file("other.onnx.ember-tmp-999999999-AbCdEf")));
  CHECK(temporary_template(target).find(".ember-tmp-" + std::to_string(getpid()) + "-XXXXXX") != std::string::npos);
}

TEST_CASE("SIGTERM during a write removes the temporary file and still kills the process") {
  TempDir tmp;
  const std::string target = tmp.file("slow.bin");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the writer: interrupts itself halfway through writing
    signal(SIGTERM, SIG_DFL);  // doctest's crash handler would keep ours out, as a program's own would
    remove_temporaries_on_signals();
    (void)write_file_atomic(target, [](std::ostream& out) {
      out << "half";
      out.flush();
      raise(SIGTERM);
      return Status::Ok();
    });
    _exit(0);  // not reached
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  CHECK(temporaries_in(tmp.path()) == 0);
  CHECK_FALSE(std::filesystem::exists(target));  // the write never completed
}

TEST_CASE("a manifest's model.bytes and sha256 are checked, size first") {
  TempDir tmp;
  write_bytes(tmp.file("model.onnx"), "0123456789");
  nlohmann::json m = {{"schema", "ember.manifest/1"}, {"tool", nlohmann::json::object()},
                      {"model", {{"sha256", std::string(64, '0')}, {"bytes", uint64_t{11}}}}, {"pipeline", ""},
                      {"calibration", nlohmann::json::object()}, {"quality", nlohmann::json::object()},
                      {"tensors", nlohmann::json::array()}, {"op_counts", nlohmann::json::object()},
                      {"runtime", nlohmann::json::object()}, {"energy", nlohmann::json::object()}};
  Status wrong_size = verify_manifest_model(m, "manifest.json", tmp.file("model.onnx"));
  REQUIRE_FALSE(wrong_size.ok());
  CHECK(wrong_size.message().find("11 bytes") != std::string::npos);
  m["model"]["bytes"] = uint64_t{10};
  Status wrong_hash = verify_manifest_model(m, "manifest.json", tmp.file("model.onnx"));
  REQUIRE_FALSE(wrong_hash.ok());
  CHECK(wrong_hash.message().find("sha256") != std::string::npos);
  m["model"]["sha256"] = "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882";  // sha256("0123456789")
  CHECK(verify_manifest_model(m, "manifest.json", tmp.file("model.onnx")).ok());
  // Deep nesting is refused before parsing.
  CHECK_FALSE(parse_manifest(std::string(100000, '['), "deep.json").ok());
}

TEST_CASE("opset imports: one default-domain import at a version ONNX defines") {
  ir::Model m;
  CHECK(ir::verify_opset_imports(m).ok());  // no node uses the default domain
  m.graph.nodes.push_back(ir::make_node("Relu", "relu", {"x"}, {"y"}));
  CHECK(ir::verify_opset_imports(m).message().find("no opset of the default") != std::string::npos);
  m.opset_imports = {{"ai.onnx.preview.training", 1}};
  CHECK_FALSE(ir::verify_opset_imports(m).ok());
  m.opset_imports = {{"", 17}};
  CHECK(ir::verify_opset_imports(m).ok());
  m.opset_imports = {{"ai.onnx", 0}};
  CHECK_FALSE(ir::verify_opset_imports(m).ok());
  m.opset_imports = {{"", 999}};
  CHECK(ir::verify_opset_imports(m).code() == StatusCode::kUnsupported);
  m.opset_imports = {{"", 17}, {"ai.onnx", 18}};
  CHECK(ir::verify_opset_imports(m).message().find("twice") != std::string::npos);
  m.opset_imports = {{"", 17}, {"com.microsoft", 1}};
  CHECK(ir::verify_opset_imports(m).ok());
}
