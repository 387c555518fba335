"""Hot redeploy: load an adapter into the running model server, smoke-test it through the core,
then switch the active model name that every Leximind process reads.

A switch is one atomic write (core.ports.ActiveModel); requests already in flight finish on
the model they started with, the next ones use the new name, so nothing is restarted and no
request fails. The model in service before stays loaded, so a rollback is only a switch back;
adapters older than that are unloaded. The ledger (training.deploy_ledger) keeps the earlier
models and every adapter's folder, under a lock so that two deployers never interleave.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import LeximindError
from core.ports import ActiveModel
from training.deploy_ledger import DeployLedger, LedgerState
from training.errors import DeploymentError
from training.ports import ModelRegistry, VersionStatus

_log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"


class AdapterServer(Protocol):
    """A model server that loads and unloads LoRA adapters at run time (vLLM)."""

    async def loaded(self) -> list[str]:
        """Names of the adapters loaded now."""
        ...

    async def load(self, name: str, path: Path) -> None:
        """Loads the adapter folder under `name`; an adapter already loaded is kept."""
        ...

    async def unload(self, name: str) -> None:
        """Unloads `name`; one not loaded is not an error."""
        ...


class SmokeTest(Protocol):
    """Asks a served model one question; raises DeploymentError unless it answers."""

    async def __call__(self, model: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Switch:
    """What a promotion or rollback did: the model now active, the one before, what went."""

    active: str
    previous: str
    unloaded: tuple[str, ...] = ()


class Deployer:
    """Promotes and rolls back adapters; keeps the registry's statuses in step when given one.

    `base_model` is the served base model's name, what answers while no adapter was ever
    promoted and what the first rollback returns to. `adapters_dir/<version>` is where an
    adapter is looked for when the ledger does not know its folder.
    """

    def __init__(
        self,
        *,
        server: AdapterServer,
        active: ActiveModel,
        smoke: SmokeTest,
        ledger: DeployLedger,
        base_model: str,
        adapters_dir: Path,
        registry: ModelRegistry | None = None,
    ) -> None:
        self._server = server
        self._active = active
        self._smoke = smoke
        self._ledger = ledger
        self._base = base_model
        self._adapters_dir = adapters_dir
        self._registry = registry

    @property
    def base_model(self) -> str:
        return self._base

    def active_model(self) -> str:
        """The model answering now: the switched-to one, else the base model."""
        return self._active.current() or self._base

    def rollback_target(self) -> str | None:
        """The model a rollback would switch to, if any."""
        history = self._ledger.read().history
        return history[-1] if history else None

    async def load_candidate(self, version: str, adapter_dir: Path) -> None:
        """Loads an adapter to be evaluated; it serves nothing until promoted.

        The adapter in service is loaded again too if the server lost it (a vLLM restart
        forgets adapters loaded at run time), so that it can be evaluated and serve again.
        """
        with self._ledger.locked() as state:
            state.adapters[version] = str(adapter_dir)
            self._ledger.save(state)
            serving = self.active_model()
            if serving != version and serving in state.adapters:
                await self._server.load(serving, Path(state.adapters[serving]))
        await self._server.load(version, adapter_dir)

    async def discard(self, version: str) -> None:
        """Unloads a candidate that was not promoted, unless it is in service or the rollback
        target."""
        with self._ledger.locked() as state:
            if version not in self._kept(state):
                await self._server.unload(version)

    async def promote(self, version: str, adapter_dir: Path | None = None) -> Switch:
        """Load, smoke-test, switch; raises DeploymentError and changes nothing on failure."""
        with self._ledger.locked() as state:
            folder = adapter_dir or self._adapter_dir(version, state)
            state.adapters[version] = str(folder)
            self._ledger.save(state)
            previous = self.active_model()
            await self._server.load(version, folder)
            try:
                await self._smoke(version)
            except DeploymentError:
                if version not in self._kept(state):
                    await self._server.unload(version)
                raise
            if previous == version:
                _log.info("%s is already the active model", version)
                self._mark_promoted(version, previous)
                return Switch(version, previous)
            state.history.append(previous)
            state.record("promote", version, previous)
            self._switch(state, version)
            unloaded = await self._unload_stale(state)
        self._mark_promoted(version, previous)
        _log.warning("promoted %s (previous: %s)", version, previous)
        return Switch(version, previous, unloaded)

    async def rollback(self) -> Switch:
        """Switches back to the model in service before the current one."""
        with self._ledger.locked() as state:
            if not state.history:
                raise DeploymentError("there is no earlier model to roll back to")
            current = self.active_model()
            target = state.history[-1]
            if target in state.adapters:
                await self._server.load(target, Path(state.adapters[target]))
            state.history.pop()
            state.record("rollback", target, current)
            self._switch(state, target)
            # Requests that read the old name just before the switch may still reach vLLM:
            # the adapter rolled back from stays loaded until the next switch.
            unloaded = await self._unload_stale(state, also_keep=current)
        self._mark_rolled_back(current, target)
        _log.warning("rolled back from %s to %s", current, target)
        return Switch(target, current, unloaded)

    def _switch(self, state: LedgerState, name: str) -> None:
        # The ledger first: should the switch fail, the history names a model that is still
        # loaded, and the next promotion or rollback corrects it.
        self._ledger.save(state)
        try:
            self._active.switch(name)
        except OSError as exc:
            raise DeploymentError(f"cannot switch the active model to {name}: {exc}") from exc

    def _kept(self, state: LedgerState) -> set[str]:
        return {self.active_model(), *state.history[-1:]}

    async def _unload_stale(self, state: LedgerState, also_keep: str = "") -> tuple[str, ...]:
        """Unloads this deployer's adapters other than the active one, the rollback target and
        `also_keep`; a failure is logged, not raised: the switch has already happened."""
        keep = self._kept(state) | {also_keep}
        unloaded = []
        try:
            for name in await self._server.loaded():
                if name in state.adapters and name not in keep:
                    await self._server.unload(name)
                    unloaded.append(name)
        except DeploymentError as exc:
            _log.warning("could not unload old adapters: %s", exc)
        return tuple(unloaded)

    def _adapter_dir(self, version: str, state: LedgerState) -> Path:
        if version in state.adapters:
            return Path(state.adapters[version])
        folder = self._adapters_dir / version
        if (folder / ADAPTER_CONFIG).is_file():
            return folder
        raise DeploymentError(
            f"no adapter for {version}: the ledger does not know it and {folder} has no "
            f"{ADAPTER_CONFIG}"
        )

    def _mark_promoted(self, version: str, previous: str) -> None:
        if self._registry is None:
            return
        try:
            old = self._registry.champion()
            if old is not None and old.version == version:
                return
            self._registry.set_status(
                version, VersionStatus.CHAMPION, reason=f"promoted over {previous}"
            )
            if old is not None:
                self._registry.set_status(
                    old.version, VersionStatus.RETIRED, reason=f"replaced by {version}"
                )
        except KeyError:
            _log.warning("%s serves but is not in the model registry", version)
        except LeximindError as exc:
            _log.error("%s serves, but the registry was not updated: %s", version, exc)

    def _mark_rolled_back(self, current: str, target: str) -> None:
        if self._registry is None:
            return
        try:
            registered = {v.version for v in self._registry.versions()}
            if current in registered:
                self._registry.set_status(
                    current, VersionStatus.RETIRED, reason=f"rolled back to {target}"
                )
            if target in registered:
                self._registry.set_status(target, VersionStatus.CHAMPION, reason="rollback")
        except LeximindError as exc:
            _log.error("%s serves, but the registry was not updated: %s", target, exc)
