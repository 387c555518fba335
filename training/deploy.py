"""Hot redeploy: load an adapter into the running model server, smoke-test it through the core,
then switch the active model name that every Leximind process reads, for everyone (promote) or
for a share of users (canary).

A switch is one atomic write (core.ports.ActiveModel); requests already in flight finish on
the model they started with, the next ones use the new name, so nothing is restarted and no
request fails. The model in service before stays loaded, so a rollback is only a switch back;
adapters older than that are unloaded. A canary's challenger stays loaded while it serves. A
rollback during a canary stops the canary and leaves the champion; otherwise it switches
back to the champion before. The ledger (training.deploy_ledger) keeps the earlier
models and every adapter's folder, under a lock so that two deployers never interleave.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import LeximindError, StoreUnavailable
from core.ports import Rollout
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
    """What a promotion or rollback did: the model now active, the one before, what went.

    `stopped_canary` names the challenger a rollback took out of service; the champion
    (`active`) did not change then.
    """

    active: str
    previous: str
    unloaded: tuple[str, ...] = ()
    stopped_canary: str | None = None


@dataclass(frozen=True, slots=True)
class Canary:
    """What starting or changing a canary did: the challenger's share now and before (0 when
    it was not serving), the champion it runs against, an earlier challenger it replaced."""

    challenger: str
    share: float
    previous_share: float
    champion: str
    replaced: str | None = None


class Deployer:
    """Promotes, canaries and rolls back adapters; keeps the registry's statuses (and so its
    `champion` and `challenger` aliases) in step when given one.

    `base_model` is the served base model's name, what answers while no adapter was ever
    promoted and what the first rollback returns to. `adapters_dir/<version>` is where an
    adapter is looked for when the ledger does not know its folder.
    """

    def __init__(
        self,
        *,
        server: AdapterServer,
        active: Rollout,
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

    async def active_model(self) -> str:
        """The model answering now, as the rollout state says: the switched-to one, else the
        base model. Raises StoreUnavailable when the state cannot be read."""
        return (await self._active.read()).champion or self._base

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
            serving = await self.active_model()
            if serving != version and serving in state.adapters:
                await self._server.load(serving, Path(state.adapters[serving]))
        await self._server.load(version, adapter_dir)

    async def discard(self, version: str) -> None:
        """Unloads a candidate that was not promoted, unless it is in service or the rollback
        target."""
        with self._ledger.locked() as state:
            if version not in await self._kept(state):
                await self._server.unload(version)

    async def promote(self, version: str | None = None, adapter_dir: Path | None = None) -> Switch:
        """Load, smoke-test, switch; raises DeploymentError and changes nothing on failure.

        Without `version` the running canary's challenger is promoted. The new champion
        serves every question: a canary still running is over.
        """
        with self._ledger.locked() as state:
            rollout = await self._active.read()
            if version is None:
                if rollout.challenger is None:
                    raise DeploymentError("no canary is running: name the version to promote")
                version = rollout.challenger
            ended = rollout.challenger if rollout.challenger != version else None
            previous = rollout.champion or self._base
            await self._load_and_smoke(version, state, adapter_dir)
            if previous == version:
                _log.info("%s is already the active model", version)
                self._mark_promoted(version, previous)
                return Switch(version, previous)
            state.history.append(previous)
            state.record("promote", version, previous)
            await self._switch(state, version)
            unloaded = await self._unload_stale(state, also_keep=ended or "")
        self._mark_promoted(version, previous)
        if ended is not None:
            self._mark_status(ended, VersionStatus.CANDIDATE, f"canary ended: {version} promoted")
        _log.warning("promoted %s (previous: %s)", version, previous)
        return Switch(version, previous, unloaded)

    async def canary(self, version: str, share: float, adapter_dir: Path | None = None) -> Canary:
        """Load and smoke-test `version`, then route `share` (0 < share <= 1) of the users to
        it; the champion answers the others. Running it again changes the share; naming
        another version replaces the challenger. Raises DeploymentError and changes nothing
        on failure."""
        if math.isnan(share) or not 0.0 < share <= 1.0:
            raise DeploymentError(
                f"a canary's share must be above 0 and at most 1, got {share}; "
                "`leximind model rollback` stops a canary"
            )
        with self._ledger.locked() as state:
            before = await self._active.read()
            champion = before.champion or self._base
            if version == champion:
                raise DeploymentError(f"{version} is the champion: it serves every question")
            await self._load_and_smoke(version, state, adapter_dir)
            replaced = before.challenger if before.challenger != version else None
            result = Canary(
                challenger=version,
                share=share,
                previous_share=before.share if replaced is None else 0.0,
                champion=champion,
                replaced=replaced,
            )
            if result.previous_share != share:
                state.record("canary", version, champion, share=share)
                await self._stage(state, version, share)
                await self._unload_stale(state, also_keep=replaced or "")
        self._mark_status(
            version, VersionStatus.CHALLENGER, f"canary: {share:.0%} of users against {champion}"
        )
        _log.warning(
            "canary: %s answers %.1f%% of users (champion %s)", version, 100 * share, champion
        )
        return result

    async def rollback(self) -> Switch:
        """Stops a running canary (the champion stays); else switches back to the model in
        service before the current one."""
        with self._ledger.locked() as state:
            rollout = await self._active.read()
            challenger = rollout.challenger
            if challenger is not None:
                champion = rollout.champion or self._base
                state.record("stop canary", challenger, champion, share=0.0)
                # The challenger stays loaded for requests that were routed to it just
                # before; the next switch unloads it.
                await self._stage(state, None, 0.0)
                stopped = Switch(champion, champion, stopped_canary=challenger)
            else:
                stopped = None
                switched = await self._switch_back(state)
        if stopped is not None:
            assert stopped.stopped_canary is not None
            self._mark_status(stopped.stopped_canary, VersionStatus.REJECTED, "canary rolled back")
            _log.warning("stopped the canary of %s", stopped.stopped_canary)
            return stopped
        self._mark_rolled_back(switched.previous, switched.active)
        _log.warning("rolled back from %s to %s", switched.previous, switched.active)
        return switched

    async def _switch_back(self, state: LedgerState) -> Switch:
        """The rollback proper, under the ledger lock: the previous model becomes active."""
        if not state.history:
            raise DeploymentError("there is no earlier model to roll back to")
        current = await self.active_model()
        target = state.history[-1]
        if target in state.adapters:
            await self._server.load(target, Path(state.adapters[target]))
        state.history.pop()
        state.record("rollback", target, current)
        await self._switch(state, target)
        # Requests that read the old name just before the switch may still reach vLLM:
        # the adapter rolled back from stays loaded until the next switch.
        unloaded = await self._unload_stale(state, also_keep=current)
        return Switch(target, current, unloaded)

    async def _load_and_smoke(
        self, version: str, state: LedgerState, adapter_dir: Path | None
    ) -> None:
        """Records the adapter's folder, loads it into vLLM and smoke-tests it; a failed
        smoke test unloads it again unless it was kept (in service or for rollback)."""
        folder = adapter_dir or self._adapter_dir(version, state)
        state.adapters[version] = str(folder)
        self._ledger.save(state)
        await self._server.load(version, folder)
        try:
            await self._smoke(version)
        except DeploymentError:
            if version not in await self._kept(state):
                await self._server.unload(version)
            raise

    async def _switch(self, state: LedgerState, name: str) -> None:
        # The ledger first: should the switch fail, the history names a model that is still
        # loaded, and the next promotion or rollback corrects it.
        self._ledger.save(state)
        try:
            await self._active.switch(name)
        except (OSError, StoreUnavailable) as exc:
            raise DeploymentError(f"cannot switch the active model to {name}: {exc}") from exc

    async def _stage(self, state: LedgerState, challenger: str | None, share: float) -> None:
        self._ledger.save(state)
        try:
            await self._active.stage(challenger, share)
        except (OSError, ValueError, StoreUnavailable) as exc:
            raise DeploymentError(f"cannot stage {challenger} at {share}: {exc}") from exc

    async def _kept(self, state: LedgerState) -> set[str]:
        """The models in service (read from the rollout state now) and the rollback target."""
        rollout = await self._active.read()
        challenger = [rollout.challenger] if rollout.challenger else []
        return {rollout.champion or self._base, *challenger, *state.history[-1:]}

    async def _unload_stale(self, state: LedgerState, also_keep: str = "") -> tuple[str, ...]:
        """Unloads this deployer's adapters other than the active one, the rollback target and
        `also_keep`; a failure is logged, not raised: the switch has already happened."""
        unloaded = []
        try:
            keep = await self._kept(state) | {also_keep}
            for name in await self._server.loaded():
                if name in state.adapters and name not in keep:
                    await self._server.unload(name)
                    unloaded.append(name)
        except (DeploymentError, StoreUnavailable) as exc:
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

    def _mark_status(self, version: str, status: VersionStatus, reason: str) -> None:
        if self._registry is None:
            return
        try:
            self._registry.set_status(version, status, reason=reason)
        except KeyError:
            _log.warning("%s is not in the model registry", version)
        except LeximindError as exc:
            _log.error("the registry was not updated (%s %s): %s", version, status.value, exc)
