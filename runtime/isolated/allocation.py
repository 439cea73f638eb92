"""Which worker serves which invocation: the pool's allocation policy.

Tenants: an invocation's tenant is its installation for the active version; a draft or an
observation version is a tenant of its own (`tenant_of`), so draft code never runs in the
process that ran the active version (it could read memory the active version left, such
as secrets it fetched).

Guarantees, given a pool of `size` workers:

- **Warm per tenant.** A worker stays bound to its tenant after its queue empties. Idle
  workers are kept in least-recently-used order; when a tenant without room needs a slot and
  none is free, the least recently used idle worker of *another* tenant is retired.
- **Spares.** Up to `spares` fresh, locked-down workers are forked ahead in the background
  (retiring the least recently used worker idle for `spare_after_s` when no slot is free),
  so binding a new tenant costs no fork on the invocation's path.
- **Pipelining first.** An invocation queues on its tenant's least-loaded worker; the
  tenant takes another worker only when every one of its workers has `depth` queued, and
  only in a free slot: never the spare or another tenant's idle worker (each would cost a
  fork and a lock-down, and with many tenants and few workers nearly every visit paid
  three; a long-idle worker goes to the spare, which the next new tenant takes). A tenant
  without a worker prefers a victim whose tenant is not between two invocations, and
  takes any idle one once it has waited (it cannot starve behind steady tenants).
- **Fair share.** One tenant holds at most `tenant_max` workers (by default all but a
  quarter of the pool, at least one left to the others when `size` > 1). While another
  tenant waits without any worker, a tenant with several feeds only one of them and takes no
  more: the others drain (what is queued on a worker was sent to it already) and, idle, are
  retired for the waiting tenant. A flood of one tenant's slow invocations delays another
  tenant by at most one worker's queue, never by the flood.
- **Fair queueing.** An invocation that cannot be placed waits in its tenant's line. When
  a tenant's worker has room its first waiting invocation takes it; when other room appears
  (a slot, a spare) the first invocation of every waiting tenant is woken, tenants in
  round-robin order (the tenant served last goes to the back), so a long backlog of one
  tenant does not run ahead of the first invocation of another.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.interface import Invocation
    from runtime.isolated.worker_handle import WorkerHandle


def tenant_of(invocation: Invocation) -> str:
    """The tenant an invocation runs as: its installation, and a draft or observation
    version apart from the active one."""
    installation = invocation.installation
    tenant = f"{installation.workspace_id}/{installation.installation_id}"
    if invocation.mode == "active":
        return tenant
    return f"{tenant}/{invocation.mode}/{invocation.version.version_id}"


class Allocation:
    """The pool's bookkeeping of bound, idle, spare and waiting; see the module docstring.

    The pool supplies `_spawn()` (fork one locked-down worker) and `control` (None once
    closed); this class decides who gets which worker.
    """

    size: int
    depth: int
    retired: int

    def _init_allocation(self, *, spares: int, tenant_max: int | None) -> None:
        self.spares = max(0, min(spares, self.size))
        default_max = self.size - max(1, self.size // 4) if self.size > 1 else 1
        self.tenant_max = max(1, min(tenant_max or default_max, self.size))
        self.spare_after_s = 2.0
        self.bound: dict[str, list[WorkerHandle]] = {}
        self.fresh: list[WorkerHandle] = []
        self.idle: OrderedDict[WorkerHandle, float] = OrderedDict()  # LRU: oldest first
        self.count = 0  # workers alive or being forked
        self.forking = 0  # spares being forked in the background
        self.lines: dict[str, deque[asyncio.Future[None]]] = {}
        self.turns: deque[str] = deque()  # tenants with a waiting line, round-robin order
        self.asking: Counter[str] = Counter()  # invocations inside worker_for, by tenant
        self._spare_tasks: set[asyncio.Task[None]] = set()

    async def _spawn(self) -> WorkerHandle:  # provided by the pool
        raise NotImplementedError

    def _open(self) -> bool:  # provided by the pool: False once closed
        raise NotImplementedError

    # -- placing an invocation ----------------------------------------------------------

    async def worker_for(self, tenant: str) -> WorkerHandle:
        """A worker of `tenant` with room in its queue (waits in the tenant's line if none)."""
        self.asking[tenant] += 1
        try:
            return await self._place(tenant)
        finally:
            self.asking[tenant] -= 1
            if not self.asking[tenant]:
                del self.asking[tenant]

    async def _place(self, tenant: str) -> WorkerHandle:
        waited = False
        while True:
            worker = self._room(tenant)
            if worker is not None:
                return self._use(worker)
            mine = self.bound.get(tenant, [])
            if not mine:
                if self.fresh:
                    return self._use(self._bind(self.fresh.pop(), tenant))
                # Not a worker whose tenant is between two invocations, unless this one has
                # waited already (a tenant without a worker must not starve behind others).
                victim = self._lru_idle(tenant, protect=not waited)
                if self.count >= self.size and victim is not None:
                    self.discard(victim, refill=False)  # its slot is this invocation's
            # A tenant with a worker takes another only in a free slot: never the spare or
            # another tenant's warm worker (a fork and a lock-down on someone's path).
            if not mine or (len(mine) < self.tenant_max and not self._starving(tenant)):
                if self.count < self.size:
                    self.count += 1
                    try:
                        worker = await self._spawn()
                    except BaseException:
                        self.count -= 1
                        self._wake()
                        raise
                    return self._use(self._bind(worker, tenant))
            await self._wait(tenant)
            waited = True

    def _starving(self, tenant: str) -> bool:
        """Is another tenant asking for a worker (waiting, or woken and not yet placed)
        without holding any?"""
        return any(other != tenant and other not in self.bound for other in self.asking)

    def _room(self, tenant: str) -> WorkerHandle | None:
        # A retiring worker (a thread outlived an invocation) gets no new work.
        mine = [w for w in self.bound.get(tenant, []) if not w.retiring]
        if len(mine) > 1 and self._starving(tenant):
            # Feed one worker only: the others drain and, idle, go to the starving tenant.
            mine = mine[:1]
        least = min(mine, key=lambda w: len(w.queue), default=None)
        if least is not None and len(least.queue) < self.depth:
            return least
        return None

    def _use(self, worker: WorkerHandle) -> WorkerHandle:
        self.idle.pop(worker, None)
        return worker

    def _bind(self, worker: WorkerHandle, tenant: str) -> WorkerHandle:
        worker.tenant = tenant
        self.bound.setdefault(tenant, []).append(worker)
        self._top_up()
        return worker

    def _lru_idle(
        self, tenant: str, older_than: float | None = None, protect: bool = True
    ) -> WorkerHandle | None:
        for worker, since in self.idle.items():  # oldest first
            if older_than is not None and since > older_than:
                return None
            if worker.tenant == tenant or worker.queue:
                continue
            # Not the only worker of a tenant asking right now: it is idle only between two
            # of its invocations, and retiring it would cost that tenant a fork on its next.
            owner = worker.tenant or ""
            if not protect or owner not in self.asking or len(self.bound.get(owner, [])) > 1:
                return worker
        return None

    async def _wait(self, tenant: str) -> None:
        waiter = asyncio.get_running_loop().create_future()
        line = self.lines.setdefault(tenant, deque())
        if not line:
            self.turns.append(tenant)
        line.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():  # cancelled while waiting
                line.remove(waiter)
                if not line:
                    self._drop_line(tenant)

    def _drop_line(self, tenant: str) -> None:
        self.lines.pop(tenant, None)
        if tenant in self.turns:
            self.turns.remove(tenant)

    def _wake(self, tenant: str | None = None) -> None:
        """Room appeared. In a worker of `tenant`: its first waiting invocation takes it.
        Anywhere else (a slot, a spare, an idle worker to retire): the first waiting
        invocation of every tenant, in round-robin order (the tenant served last at the back).
        A woken invocation that finds no room waits again at the back of its line."""
        if tenant is not None and self.lines.get(tenant):
            self._release(tenant)
            return
        for waiting in list(self.turns):
            self._release(waiting)

    def _release(self, tenant: str) -> None:
        line = self.lines[tenant]
        waiter = line.popleft()
        if not line:
            self._drop_line(tenant)
        else:  # its next invocation waits behind every other tenant's first
            self.turns.remove(tenant)
            self.turns.append(tenant)
        if not waiter.done():
            waiter.set_result(None)

    # -- workers coming back ------------------------------------------------------------

    def finished(self, worker: WorkerHandle) -> None:
        """An invocation of `worker` ended: recycle a worn-out worker, mark idle, wake."""
        if (worker.retiring or worker.served >= self.max_invocations) and not worker.queue:
            self.discard(worker)
            return
        if not worker.queue:
            self.idle[worker] = time.monotonic()
            self.idle.move_to_end(worker)
            self._top_up()
            self._wake()  # idle: its tenant may use it, or another retire it for a fresh one
        else:
            self._wake(worker.tenant or "")  # room in its queue: its tenant's next takes it

    max_invocations: int

    def discard(self, worker: WorkerHandle, *, refill: bool = True) -> None:
        """Kill a worker (requeueing what waited on it) and free its slot (`refill`: for a
        spare, unless the caller takes the slot itself)."""
        if not worker.healthy:
            return
        self.idle.pop(worker, None)
        workers = self.bound.get(worker.tenant or "", [])
        if worker in workers:
            workers.remove(worker)
            if not workers:
                del self.bound[worker.tenant or ""]
        if worker in self.fresh:
            self.fresh.remove(worker)
        worker.kill()
        self.count -= 1
        self.retired += 1
        if refill and self._open():
            self._top_up()
        if refill:
            self._wake()

    # -- spares -------------------------------------------------------------------------

    def _top_up(self) -> None:
        """Fork spares in the background up to `spares`, in free slots or in the slot of the
        least recently used worker idle for `spare_after_s`."""
        if not self._open():
            return
        while len(self.fresh) + self.forking < self.spares:
            if self.count >= self.size:
                victim = self._lru_idle("", older_than=time.monotonic() - self.spare_after_s)
                if victim is None:
                    return
                self.discard(victim)  # calls _top_up again: the loop condition holds
                continue
            self.count += 1
            self.forking += 1
            task = asyncio.get_running_loop().create_task(self._add_spare())
            self._spare_tasks.add(task)
            task.add_done_callback(self._spare_tasks.discard)

    async def _add_spare(self) -> None:
        try:
            worker = await self._spawn()
        except Exception as error:
            self.count -= 1
            self._spare_failed(error)
            self._wake()  # a waiter may fork in the freed slot itself (and see the error)
            return
        finally:
            self.forking -= 1
        self.fresh.append(worker)
        self._wake()

    def _spare_failed(self, error: Exception) -> None:  # the pool logs it
        raise NotImplementedError

    def _cancel_spares(self) -> None:
        for task in list(self._spare_tasks):
            task.cancel()
