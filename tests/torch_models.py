"""PyTorch definitions of FCN, ResNet and InceptionTime, written from the reference code's description.

Used by tests/test_models.py (parameter counts, outputs from the same weights) and by
benchmarks/ucr_models.py (PyTorch's seconds per epoch).  The layers are registered in the
same order as nnlite.models registers them, so ``state_dict`` entries pair up by position.
Importing this module imports torch.
"""
import torch
from torch import nn


def torch_fcn(c_in, n_classes, filters=(128, 256, 128)):
    """Conv1d 128/256/128, kernels 8/5/3, 'same', each + BatchNorm1d + ReLU; GAP; Linear."""
    f1, f2, f3 = filters
    return nn.Sequential(
        nn.Conv1d(c_in, f1, 8, padding="same"), nn.BatchNorm1d(f1), nn.ReLU(),
        nn.Conv1d(f1, f2, 5, padding="same"), nn.BatchNorm1d(f2), nn.ReLU(),
        nn.Conv1d(f2, f3, 3, padding="same"), nn.BatchNorm1d(f3), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(f3, n_classes))


class TorchResNet(nn.Module):
    """dl-4-tsc's ResNet: blocks 64/128/128; conv shortcuts in blocks 1 and 2, a BatchNorm1d alone in block 3."""

    def __init__(self, c_in, n_classes, filters=(64, 128, 128)):
        super().__init__()
        self.layers = nn.ModuleList()
        self.n_blocks = len(filters)
        for i, f in enumerate(filters):
            prev = c_in if i == 0 else filters[i - 1]
            block = nn.ModuleDict({
                "c8": nn.Conv1d(prev, f, 8, padding="same"), "b8": nn.BatchNorm1d(f),
                "c5": nn.Conv1d(f, f, 5, padding="same"), "b5": nn.BatchNorm1d(f),
                "c3": nn.Conv1d(f, f, 3, padding="same"), "b3": nn.BatchNorm1d(f)})
            if i < 2:
                block["sc"] = nn.Conv1d(prev, f, 1)
            block["sb"] = nn.BatchNorm1d(f)
            self.layers.append(block)
        self.fc = nn.Linear(filters[-1], n_classes)

    def forward(self, x):
        for b in self.layers:
            y = torch.relu(b["b8"](b["c8"](x)))
            y = torch.relu(b["b5"](b["c5"](y)))
            y = b["b3"](b["c3"](y))
            s = b["sb"](b["sc"](x)) if "sc" in b else b["sb"](x)
            x = torch.relu(y + s)
        return self.fc(x.mean(-1))


class TorchInceptionTime(nn.Module):
    """hfawaz/InceptionTime's network: no conv bias, bottleneck only for inputs of more than one channel."""

    def __init__(self, c_in, n_classes, depth=6, nf=32, bottleneck=32, kernels=(40, 20, 10)):
        super().__init__()
        width = nf * (len(kernels) + 1)
        self.mods = nn.ModuleList()
        self.res = nn.ModuleList()
        chans, res_chans = c_in, c_in
        for d in range(depth):
            m = nn.ModuleDict()
            if chans > 1:
                m["neck"] = nn.Conv1d(chans, bottleneck, 1, bias=False)
            src = bottleneck if chans > 1 else chans
            m["wide"] = nn.ModuleList([nn.Conv1d(src, nf, k, padding="same", bias=False) for k in kernels])
            m["pool1x1"] = nn.Conv1d(chans, nf, 1, bias=False)
            m["bn"] = nn.BatchNorm1d(width)
            self.mods.append(m)
            chans = width
            if d % 3 == 2:
                self.res.append(nn.Sequential(nn.Conv1d(res_chans, width, 1, bias=False), nn.BatchNorm1d(width)))
                res_chans = width
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x):
        res = x
        for d, m in enumerate(self.mods):
            z = m["neck"](x) if "neck" in m else x
            pooled = nn.functional.max_pool1d(x, 3, 1, 1)
            x = torch.relu(m["bn"](torch.cat([c(z) for c in m["wide"]] + [m["pool1x1"](pooled)], 1)))
            if d % 3 == 2:
                x = torch.relu(x + self.res[d // 3](res))
                res = x
        return self.fc(x.mean(-1))


def copy_weights(nnlite_model, torch_model):
    """Load ``nnlite_model``'s state into ``torch_model`` entry by entry (shapes must agree, in order)."""
    src = list(nnlite_model.state_dict().items())
    dst = list(torch_model.state_dict().items())
    assert len(src) == len(dst), (len(src), len(dst))
    new = {}
    for (ka, va), (kb, vb) in zip(src, dst):
        assert tuple(va.shape) == tuple(vb.shape), (ka, tuple(va.shape), kb, tuple(vb.shape))
        new[kb] = torch.from_numpy(va.numpy().copy()).to(vb.dtype)
    torch_model.load_state_dict(new)
    return torch_model
