"""MATLAB's ``trainingProgressMonitor`` for custom training loops, without a window: it records what
the Training Progress window would show (``MetricData``, ``InfoData``, ``Progress``, ``Status``,
elapsed time) so that the documented loops run as written::

    monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration")
    while epoch < numEpochs and not monitor.Stop:
        ...
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations

``monitor.Stop`` is MATLAB's Stop button: set it (or call ``monitor.stop()``) to end such a loop.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Sequence, Union

from .imported import np

__all__ = ["trainingProgressMonitor", "TrainingProgressMonitor", "recordMetrics", "updateInfo", "groupSubPlot",
           "yscale"]

Names = Union[str, Sequence[str], None]


def _names(value: Names, what: str) -> List[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    for n in names:
        if not (isinstance(n, str) and n and n[0].isalpha() and n.replace("_", "a").isalnum()):
            raise ValueError(f"trainingProgressMonitor: {what} names begin with a letter and contain letters, "
                             f"digits and underscores, got {n!r}")
    return names


def _scalar(value: Any, name: str) -> float:
    data = getattr(value, "_data", value)          # a dlarray: its value
    arr = np.asarray(data)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"recordMetrics: the value of {name!r} must be a real numeric scalar, got shape {arr.shape}")
    return float(arr.reshape(()))


class TrainingProgressMonitor:
    """What ``trainingProgressMonitor`` returns: MATLAB's properties Metrics, Info, XLabel, Visible,
    Progress (0 to 100), Status, Stop, MetricData (per metric, an (n, 2) array of [step, value] rows),
    InfoData (per information name, the values given, in order), Start and Duration (seconds)."""

    def __init__(self, Metrics: Names = None, Info: Names = None, XLabel: str = "Iteration",
                 Visible: bool = True, Progress: float = 0, Status: str = "Running"):
        self.Start = time.time()
        self._metrics: List[str] = []
        self._info: List[str] = []
        self.MetricData: Dict[str, np.ndarray] = {}
        self.InfoData: Dict[str, List[Any]] = {}
        self.Metrics = Metrics
        self.Info = Info
        self.XLabel = XLabel
        self.Visible = bool(Visible)
        self.Progress = Progress
        self.Status = Status
        self.Stop = False
        self.SubPlots: Dict[str, List[str]] = {}
        self.YScales: Dict[str, str] = {}

    @property
    def Metrics(self) -> List[str]:
        return list(self._metrics)

    @Metrics.setter
    def Metrics(self, names: Names) -> None:
        self._metrics = _names(names, "metric")
        for n in self._metrics:
            self.MetricData.setdefault(n, np.zeros((0, 2)))

    @property
    def Info(self) -> List[str]:
        return list(self._info)

    @Info.setter
    def Info(self, names: Names) -> None:
        self._info = _names(names, "information")
        for n in self._info:
            self.InfoData.setdefault(n, [])

    @property
    def Progress(self) -> float:
        return self._progress

    @Progress.setter
    def Progress(self, value: float) -> None:
        value = float(getattr(value, "_data", value))
        if not 0 <= value <= 100:
            raise ValueError(f"trainingProgressMonitor: Progress is a percentage from 0 to 100, got {value}")
        self._progress = value

    @property
    def Duration(self) -> float:
        """The seconds since the monitor was made."""
        return time.time() - self.Start

    def stop(self) -> None:
        """MATLAB's Stop button."""
        self.Stop = True

    def recordMetrics(self, step: Any, values: Optional[Dict[str, Any]] = None, **metrics: Any) -> None:
        """``recordMetrics(monitor, step, Loss=loss)`` (or a dict, MATLAB's structure): each value
        appended to ``MetricData[name]`` as a [step, value] row; the names must be in ``Metrics``."""
        items = dict(values or {}, **metrics)
        step = _scalar(step, "step")
        for name, value in items.items():
            if name not in self._metrics:
                raise ValueError(f"recordMetrics: {name!r} is not a metric of this monitor (Metrics: "
                                 f"{self._metrics}); add it to monitor.Metrics first")
            row = np.array([[step, _scalar(value, name)]])
            self.MetricData[name] = np.concatenate([self.MetricData[name], row])

    def updateInfo(self, values: Optional[Dict[str, Any]] = None, **info: Any) -> None:
        """``updateInfo(monitor, Epoch=epoch)`` (or a dict): the values kept in ``InfoData[name]``;
        the names must be in ``Info``."""
        items = dict(values or {}, **info)
        for name, value in items.items():
            if name not in self._info:
                raise ValueError(f"updateInfo: {name!r} is not an information name of this monitor (Info: "
                                 f"{self._info}); add it to monitor.Info first")
            self.InfoData[name].append(value)

    def groupSubPlot(self, name: str, metrics: Names) -> None:
        """Plot these metrics in one subplot ``name`` (recorded in ``SubPlots``)."""
        names = _names(metrics, "metric")
        missing = [n for n in names if n not in self._metrics]
        if missing:
            raise ValueError(f"groupSubPlot: {missing} are not metrics of this monitor")
        self.SubPlots[name] = names

    def yscale(self, name: Union[str, Sequence[str]], scale: str) -> None:
        """The y scale ("linear" or "log") of a subplot or metric (recorded in ``YScales``)."""
        if scale not in ("linear", "log"):
            raise ValueError(f"yscale: the scale is 'linear' or 'log', got {scale!r}")
        for n in ([name] if isinstance(name, str) else list(name)):
            self.YScales[n] = scale

    def __repr__(self) -> str:
        return (f"TrainingProgressMonitor(Metrics={self._metrics}, Info={self._info}, XLabel={self.XLabel!r}, "
                f"Progress={self._progress:g}, Status={self.Status!r}, Stop={self.Stop})")


def trainingProgressMonitor(**properties: Any) -> TrainingProgressMonitor:
    """MATLAB's ``monitor = trainingProgressMonitor(Metrics=..., Info=..., XLabel=...)`` for custom
    training loops, headless: ``recordMetrics`` keeps the values in ``monitor.MetricData``,
    ``updateInfo`` in ``monitor.InfoData``; ``monitor.Stop`` ends a ``while not monitor.Stop`` loop.

    >>> monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration")
    >>> for iteration in range(1, 4):
    ...     recordMetrics(monitor, iteration, Loss=1.0 / iteration)
    ...     updateInfo(monitor, Epoch=1)
    ...     monitor.Progress = 100 * iteration / 3
    >>> monitor.MetricData["Loss"][:, 1].round(3).tolist(), monitor.Progress, monitor.Stop
    ([1.0, 0.5, 0.333], 100.0, False)
    """
    return TrainingProgressMonitor(**properties)


def recordMetrics(monitor: TrainingProgressMonitor, step: Any, values: Optional[Dict[str, Any]] = None,
                  **metrics: Any) -> None:
    """MATLAB's ``recordMetrics(monitor, step, Loss=loss)``: see ``TrainingProgressMonitor.recordMetrics``.

    >>> monitor = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss"])
    >>> recordMetrics(monitor, 1, TrainingLoss=0.5, ValidationLoss=0.7)
    >>> recordMetrics(monitor, 2, {"TrainingLoss": 0.25})
    >>> monitor.MetricData["TrainingLoss"].tolist()
    [[1.0, 0.5], [2.0, 0.25]]
    """
    monitor.recordMetrics(step, values, **metrics)


def updateInfo(monitor: TrainingProgressMonitor, values: Optional[Dict[str, Any]] = None, **info: Any) -> None:
    """MATLAB's ``updateInfo(monitor, Epoch=epoch)``: see ``TrainingProgressMonitor.updateInfo``.

    >>> monitor = trainingProgressMonitor(Info=["Epoch", "LearningRate"])
    >>> updateInfo(monitor, Epoch="1 of 5", LearningRate=0.01)
    >>> monitor.InfoData["Epoch"], monitor.InfoData["LearningRate"]
    (['1 of 5'], [0.01])
    """
    monitor.updateInfo(values, **info)


def groupSubPlot(monitor: TrainingProgressMonitor, name: str, metrics: Names) -> None:
    """MATLAB's ``groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])``.

    >>> monitor = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss"])
    >>> groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])
    >>> monitor.SubPlots
    {'Loss': ['TrainingLoss', 'ValidationLoss']}
    """
    monitor.groupSubPlot(name, metrics)


def yscale(monitor: TrainingProgressMonitor, name: Union[str, Sequence[str]], scale: str) -> None:
    """MATLAB's ``yscale(monitor, "Loss", "log")``.

    >>> monitor = trainingProgressMonitor(Metrics="Loss")
    >>> yscale(monitor, "Loss", "log")
    >>> monitor.YScales
    {'Loss': 'log'}
    """
    monitor.yscale(name, scale)
