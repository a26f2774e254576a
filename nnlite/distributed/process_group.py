"""The default process group: one mpi4py communicator, how it starts and how it ends.

``init_process_group`` takes MPI's world communicator (or a given one), makes
an uncaught exception on any rank abort the whole job (``comm.Abort``) instead
of leaving the other ranks waiting in a collective, and gives each rank as many
kernel threads as it has cores of its own.  mpi4py is imported here, when
:func:`is_available` or :func:`init_process_group` is first called, never by
``import nnlite``.
"""
import os
import sys

__all__ = ["is_available", "init_process_group", "is_initialized", "get_rank", "get_world_size",
           "destroy_process_group", "default_threads"]

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


class _Group:
    """The communicator and the settings every collective reads."""

    def __init__(self, comm, deterministic):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.deterministic = deterministic


_group = None
_previous_excepthook = None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("nnlite.distributed needs mpi4py and an MPI library: pip install nnlite[mpi] "
                          "(or pip install mpi4py mpich)") from e
    return MPI


def is_available():
    """True when mpi4py (and the MPI library it loads) can be imported.

    >>> import nnlite.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True

    See PyTorch's ``torch.distributed.is_available``.
    """
    try:
        _mpi()
    except (ImportError, RuntimeError):
        return False
    return True


def _group_or_raise():
    if _group is None:
        raise RuntimeError(_NOT_INITIALIZED)
    return _group


def init_process_group(backend="mpi", comm=None, *, deterministic=True):
    """Start the default process group on an MPI communicator (MPI's world communicator by default).

    Run under ``mpiexec -n N python -m mpi4py train.py``.  Every rank must call
    it.  ``comm`` may be any mpi4py intra-communicator (e.g. a ``Split`` of the
    world).  With ``deterministic=True`` (the default) sums over ranks are
    added in rank order, so every rank gets bitwise the same result and a run is
    reproducible bit for bit; ``deterministic=False`` uses MPI's ``Allreduce``,
    faster on many nodes but without either promise.

    It also installs an exception hook that prints the traceback and calls
    ``comm.Abort(1)``, so one failing rank ends the job within seconds, and,
    unless ``OMP_NUM_THREADS`` is set, sets the kernel threads of this rank to
    :func:`default_threads`.

    >>> import nnlite.distributed as dist
    >>> dist.init_process_group("nccl")
    Traceback (most recent call last):
    ...
    ValueError: nnlite.distributed supports the 'mpi' backend only, but got 'nccl'

    See PyTorch's ``torch.distributed.init_process_group``.
    """
    global _group, _previous_excepthook
    if backend != "mpi":
        raise ValueError(f"nnlite.distributed supports the 'mpi' backend only, but got {backend!r}")
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    MPI = _mpi()
    if comm is None:
        comm = MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm should be an mpi4py Intracomm, but got {type(comm).__name__}")
    group = _Group(comm, bool(deterministic))
    if "OMP_NUM_THREADS" not in os.environ:
        from nnlite._threads import set_num_threads
        set_num_threads(_local_threads(MPI, comm))
    if _previous_excepthook is None:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_exception
    _group = group


def _abort_on_exception(kind, value, tb):
    """Print the traceback, then end every rank: the others may be blocked in a collective."""
    hook = _previous_excepthook or sys.__excepthook__
    hook(kind, value, tb)
    sys.stderr.flush()
    sys.stdout.flush()
    group = _group
    if group is not None and group.size > 1:
        group.comm.Abort(1)


def default_threads(mine, node_masks):
    """Kernel threads for a rank given its CPU set ``mine`` and those of all ranks on its node.

    The cores in ``mine`` divided among the ranks on the node whose CPU sets
    overlap it (at least 1): ranks bound to their own cores use all of them,
    ranks that share the node's cores (no binding) split them.

    >>> from nnlite.distributed import default_threads
    >>> default_threads({0, 1}, [{0, 1}, {0, 1}])      # 2 unbound ranks on 2 cores
    1
    >>> default_threads({0, 1, 2, 3}, [{0, 1, 2, 3}, {4, 5, 6, 7}])   # bound to 4 cores each
    4
    """
    mine = set(mine)
    sharing = sum(1 for m in node_masks if mine & set(m))
    return max(1, len(mine) // max(1, sharing))


def _local_threads(MPI, comm):
    try:
        mine = os.sched_getaffinity(0)
    except AttributeError:  # macOS, Windows: no affinity masks
        mine = set(range(os.cpu_count() or 1))
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        masks = node.allgather(sorted(mine))
    finally:
        node.Free()
    return default_threads(mine, masks)


def is_initialized():
    """True between :func:`init_process_group` and :func:`destroy_process_group`.

    >>> import nnlite.distributed as dist
    >>> dist.is_initialized()
    False

    See PyTorch's ``torch.distributed.is_initialized``.
    """
    return _group is not None


def get_rank():
    """This process's rank in the default group (0 to world size - 1).

    >>> import nnlite.distributed as dist
    >>> dist.get_rank()
    Traceback (most recent call last):
    ...
    RuntimeError: Default process group has not been initialized, please make sure to call init_process_group.

    See PyTorch's ``torch.distributed.get_rank``.
    """
    return _group_or_raise().rank


def get_world_size():
    """The number of processes in the default group.

    See PyTorch's ``torch.distributed.get_world_size``.
    """
    return _group_or_raise().size


def destroy_process_group():
    """Forget the default group and restore the exception hook (MPI itself ends with the interpreter).

    See PyTorch's ``torch.distributed.destroy_process_group``.
    """
    global _group, _previous_excepthook
    _group_or_raise()
    _group = None
    if _previous_excepthook is not None and sys.excepthook is _abort_on_exception:
        sys.excepthook = _previous_excepthook
    _previous_excepthook = None
