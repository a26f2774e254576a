"""Porting suite: PyTorch 1D-conv scripts run on nnlite by changing only the import.

Each ``*_script(torch)`` below is written once, in PyTorch's API, and run twice: with ``torch`` bound to nnlite
and to PyTorch itself.  Both runs start from the same weights and see the same batches, so their losses must
agree to float32 precision.  The scripts are our own code; the idioms they exercise (model definitions,
training loops, data loading, checkpointing, evaluation, device and seeding boilerplate) come from these
public PyTorch 1D-conv projects, found with the code search corpus:

* QingyuanWang/ECG_classification (ECG beats: TensorDataset, DataLoader(num_workers=2), Adam, permute to N,C,L)
* MaratNaz12/ECG (PTB-XL rhythm: device selection, num_workers / pin_memory, gradient clipping)
* latte488/pytorch_trainer (ECG: SGD with momentum and weight decay, CrossEntropyLoss)
* 3Clowns/gan-scalp and stlinde/Thesis (temporal convolutional network: weight_norm'd Conv1d, Chomp1d slicing,
  ``.weight.data.normal_(0, 0.01)`` init, residual downsample)
* nadaselham/Hybrid-CNN-TCN (TCN without weight norm: dilations 2**i, causal padding)
* TheMrGhostman/InceptionTime-Pytorch and Wensi-Tang/Pytorch_InceptionTime (InceptionTime on UCR: bottleneck,
  parallel kernels concatenated on channels, MaxPool1d(3, 1, padding=1), global average pooling)
* RimAmarat/SpeechCommands (raw-waveform M5: pad_sequence collate, BatchNorm1d, MaxPool1d, LogSoftmax + NLLLoss,
  StepLR, argmax accuracy)
* AI4EPS/PhaseNet (seismic phase picking: Conv1d / ConvTranspose1d U-Net with skip connections by cat,
  softmax over phases)
* aprameyap/vibratiq and KhanutBJ/brain-hack (1D convolutional autoencoders: ConvTranspose1d with
  output_padding; MaxPool1d + Upsample(scale_factor=2) + Sigmoid, MSELoss)

None of their code is copied.
"""
import io
import warnings

import numpy
import pytest

import nnlite

torch_ = pytest.importorskip("torch")

RNG = numpy.random.default_rng(0)


def boilerplate(torch, seed=0):
    """The seeding / device block most of the projects start with."""
    import random
    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def transfer(src, dst):
    """Copy an nnlite model's weights into a PyTorch one (both from the same script)."""
    dst.load_state_dict({k: torch_.tensor(v.detach().numpy().copy()) for k, v in src.state_dict().items()})


def run_both(script, *args, rtol=2e-4, atol=2e-5, **kwargs):
    """Run ``script(torch, init=...)`` on nnlite and PyTorch from the same weights; compare the returned numbers."""
    try:
        ours = script(nnlite, *args, init=None, **kwargs)
        theirs = script(torch_, *args, init=ours["model0"], **kwargs)
    finally:  # the boilerplate sets process-wide flags: leave them as other tests expect
        for lib in (nnlite, torch_):
            lib.use_deterministic_algorithms(False)
            lib.backends.cudnn.deterministic, lib.backends.cudnn.benchmark = False, False
    assert len(ours["losses"]) == len(theirs["losses"]) > 0
    numpy.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=rtol, atol=atol)
    for k in ours:
        if k not in ("model0", "losses"):
            numpy.testing.assert_allclose(ours[k], theirs[k], rtol=rtol, atol=atol, err_msg=k)
    return ours


def start(torch, model, init):
    """The nnlite run records its initial weights; the PyTorch run loads them."""
    if init is None:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    transfer_from = init
    model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in transfer_from.items()})
    return init


# -- ECG classifier (QingyuanWang/ECG_classification, MaratNaz12/ECG, latte488/pytorch_trainer) ---------------
X_ECG = RNG.standard_normal((24, 40, 1)).astype(numpy.float32)      # (N, L, C) as read from a file
Y_ECG = RNG.integers(0, 3, 24)


def ecg_script(torch, init):
    nn, F = torch.nn, torch.nn.functional
    device = boilerplate(torch)

    class Net(nn.Module):
        def __init__(self, n_classes=3):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv1d(1, 8, kernel_size=5, padding=2), nn.BatchNorm1d(8), nn.ReLU(inplace=True),
                nn.MaxPool1d(2), nn.Conv1d(8, 16, 3, padding="same"), nn.BatchNorm1d(16), nn.PReLU(16),
                nn.AdaptiveAvgPool1d(1))
            self.fc = nn.Linear(16, n_classes)

        def forward(self, x):
            x = self.features(x)
            return self.fc(torch.flatten(x, 1))

    model = Net().to(device)
    model0 = start(torch, model, init)
    x = torch.tensor(X_ECG, dtype=torch.float).permute([0, 2, 1])
    y = torch.tensor(Y_ECG, dtype=torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=False,
                                         num_workers=2, pin_memory=torch.cuda.is_available())
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.8, weight_decay=1e-2)
    losses = []
    for epoch in range(2):
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb).argmax(dim=1, keepdim=True)
            correct += pred.eq(yb.view_as(pred)).sum().item()
        probs = F.softmax(model(x), dim=1)
    return {"model0": model0, "losses": losses, "correct": correct, "probs": probs.numpy()}


def test_ecg_classifier_ports():
    out = run_both(ecg_script)
    assert 0 <= out["correct"] <= 24


# -- TCN with weight norm (3Clowns/gan-scalp, stlinde/Thesis, nadaselham/Hybrid-CNN-TCN) ---------------------
X_TCN = RNG.standard_normal((6, 2, 30)).astype(numpy.float32)
Y_TCN = RNG.standard_normal((6, 1)).astype(numpy.float32)


def tcn_script(torch, init, parametrized):
    nn = torch.nn
    wn = torch.nn.utils.parametrizations.weight_norm if parametrized else torch.nn.utils.weight_norm

    class Chomp1d(nn.Module):
        def __init__(self, chomp_size):
            super().__init__()
            self.chomp_size = chomp_size

        def forward(self, x):
            return x[:, :, :-self.chomp_size].contiguous()

    class Block(nn.Module):
        def __init__(self, n_in, n_out, k, dilation):
            super().__init__()
            pad = (k - 1) * dilation
            self.conv = wn(nn.Conv1d(n_in, n_out, k, padding=pad, dilation=dilation))
            self.net = nn.Sequential(self.conv, Chomp1d(pad), nn.ReLU(), nn.Dropout(0.0))
            self.downsample = nn.Conv1d(n_in, n_out, 1) if n_in != n_out else None
            self.relu = nn.ReLU()

        def forward(self, x):
            res = x if self.downsample is None else self.downsample(x)
            return self.relu(self.net(x) + res)

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.network = nn.Sequential(*[Block(2 if i == 0 else 8, 8, 3, 2 ** i) for i in range(3)])
            self.linear = nn.Linear(8, 1)

        def forward(self, x):
            return self.linear(self.network(x)[:, :, -1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = TCN()
    model0 = start(torch, model, init)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=8)
    x, y = torch.from_numpy(X_TCN), torch.from_numpy(Y_TCN)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return {"model0": model0, "losses": losses, "lr": scheduler.get_last_lr()}


@pytest.mark.parametrize("parametrized", [False, True])
def test_tcn_with_weight_norm_ports(parametrized):
    run_both(tcn_script, parametrized=parametrized)


# -- InceptionTime on a UCR-shaped set (TheMrGhostman/InceptionTime-Pytorch, Wensi-Tang/Pytorch_InceptionTime) --
X_UCR = RNG.standard_normal((16, 1, 24)).astype(numpy.float32)
Y_UCR = RNG.integers(0, 2, 16)


def inception_script(torch, init):
    nn = torch.nn

    class Inception(nn.Module):
        def __init__(self, c_in, nf=4, ks=(9, 5, 3)):
            super().__init__()
            self.bottleneck = nn.Conv1d(c_in, nf, 1, bias=False) if c_in > 1 else nn.Identity()
            c = nf if c_in > 1 else c_in
            self.convs = nn.ModuleList([nn.Conv1d(c, nf, k, padding=k // 2, bias=False) for k in ks])
            self.pool_conv = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, nf, 1, bias=False))
            self.bn = nn.BatchNorm1d(nf * 4)
            self.act = nn.ReLU()

        def forward(self, x):
            b = self.bottleneck(x)
            out = torch.cat([conv(b) for conv in self.convs] + [self.pool_conv(x)], dim=1)
            return self.act(self.bn(out))

    class InceptionTime(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(Inception(1), Inception(16))
            self.shortcut = nn.Sequential(nn.Conv1d(1, 16, 1, bias=False), nn.BatchNorm1d(16))
            self.gap = nn.AdaptiveAvgPool1d(1)
            self.fc = nn.Linear(16, 2)

        def forward(self, x):
            x = torch.relu(self.blocks(x) + self.shortcut(x))
            return self.fc(self.gap(x).squeeze(-1))

    model = InceptionTime()
    model0 = start(torch, model, init)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X_UCR), torch.from_numpy(Y_UCR))
    train, held_out = torch.utils.data.random_split(ds, [0.75, 0.25])   # the split itself is random: not compared
    assert (len(train), len(held_out)) == (12, 4)
    train = torch.utils.data.Subset(ds, list(range(12)))
    loader = torch.utils.data.DataLoader(train, batch_size=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)
    losses = []
    for epoch in range(3):
        for i, (xb, yb) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(xb), yb, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + i / len(loader))
            losses.append(loss.item())
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(X_UCR[12:]))
    buf = io.BytesIO()
    torch.save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
               buf)
    buf.seek(0)
    ckpt = torch.load(buf)
    again = InceptionTime()
    again.load_state_dict(ckpt["model_state_dict"])
    again.eval()
    with torch.no_grad():
        assert bool((again(torch.from_numpy(X_UCR[12:])) == logits).all())
    return {"model0": model0, "losses": losses, "logits": logits.numpy()}


def test_inception_time_ports():
    run_both(inception_script)


# -- M5 on raw waveforms of varying length (RimAmarat/SpeechCommands) -----------------------------------------
WAVES = [RNG.standard_normal((1, n)).astype(numpy.float32) for n in (200, 180, 160, 200, 190, 170)]
LABELS = [0, 1, 2, 1, 0, 2]


def m5_script(torch, init):
    nn, F = torch.nn, torch.nn.functional

    class M5(nn.Module):
        def __init__(self, n_output=3, n_channel=8):
            super().__init__()
            self.conv1 = nn.Conv1d(1, n_channel, kernel_size=16, stride=4)
            self.bn1 = nn.BatchNorm1d(n_channel)
            self.pool1 = nn.MaxPool1d(4)
            self.conv2 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
            self.bn2 = nn.BatchNorm1d(2 * n_channel)
            self.fc1 = nn.Linear(2 * n_channel, n_output)

        def forward(self, x):
            x = self.pool1(F.relu(self.bn1(self.conv1(x))))
            x = F.relu(self.bn2(self.conv2(x)))
            x = F.avg_pool1d(x, x.shape[-1])
            x = x.permute(0, 2, 1)
            return F.log_softmax(self.fc1(x), dim=2)

    def pad_sequence(batch):
        batch = [item.t() for item in batch]
        batch = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True, padding_value=0.)
        return batch.permute(0, 2, 1)

    def collate_fn(batch):
        tensors, targets = [], []
        for waveform, label in batch:
            tensors += [waveform]
            targets += [torch.tensor(label)]
        return pad_sequence(tensors), torch.stack(targets)

    data = [(torch.from_numpy(w), c) for w, c in zip(WAVES, LABELS)]
    loader = torch.utils.data.DataLoader(data, batch_size=3, shuffle=False, collate_fn=collate_fn)
    model = M5()
    model0 = start(torch, model, init)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    losses = []
    for epoch in range(2):
        model.train()
        for data_, target in loader:
            output = model(data_)
            loss = F.nll_loss(output.squeeze(), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    model.eval()
    correct = 0
    for data_, target in loader:
        pred = model(data_).argmax(dim=-1)
        correct += pred.squeeze().eq(target).sum().item()
    return {"model0": model0, "losses": losses, "correct": correct}


def test_m5_raw_waveform_ports():
    run_both(m5_script)


# -- PhaseNet-style U-Net (AI4EPS/PhaseNet) -------------------------------------------------------------------
X_SEIS = RNG.standard_normal((4, 3, 32)).astype(numpy.float32)
P_SEIS = RNG.dirichlet(numpy.ones(3), size=(4, 32)).transpose(0, 2, 1).astype(numpy.float32)


def phasenet_script(torch, init):
    nn, F = torch.nn, torch.nn.functional

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = nn.Conv1d(3, 4, 7, padding="same")
            self.down = nn.Conv1d(4, 8, 7, stride=4, padding=3, bias=False)
            self.bn = nn.BatchNorm1d(8, eps=1e-3)
            self.up = nn.ConvTranspose1d(8, 4, 7, stride=4, padding=3, output_padding=3, bias=False)
            self.out = nn.Conv1d(8, 3, 1)

        def forward(self, x):
            x0 = torch.relu(self.inc(x))
            x1 = torch.relu(self.bn(self.down(x0)))
            x2 = torch.relu(self.up(x1))
            x = torch.cat([x2, x0], dim=1)
            return torch.softmax(self.out(x), dim=1)

    model = UNet()
    model0 = start(torch, model, init)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.SequentialLR(
        optimizer, [torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, total_iters=2),
                    torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)], milestones=[2])
    x, p = torch.from_numpy(X_SEIS), torch.from_numpy(P_SEIS)
    losses = []
    for _ in range(5):
        pred = model(x)
        loss = -(p * torch.log(pred + 1e-5)).mean(axis=(0, 2)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    with torch.no_grad():
        picks = model(x)[:, 1].topk(2, dim=-1).indices
    return {"model0": model0, "losses": losses, "picks": picks.numpy()}


def test_phasenet_unet_ports():
    run_both(phasenet_script)


# -- convolutional autoencoders (aprameyap/vibratiq, KhanutBJ/brain-hack) -------------------------------------
X_AE = RNG.uniform(size=(5, 2, 16)).astype(numpy.float32)


def autoencoder_script(torch, init):
    nn = torch.nn

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.ReflectionPad1d(1), nn.Conv1d(2, 8, 3), nn.SiLU(), nn.MaxPool1d(2),
                                         nn.Conv1d(8, 4, 3, stride=2, padding=1), nn.Mish())
            self.decoder = nn.Sequential(
                nn.ConvTranspose1d(4, 8, 3, stride=2, padding=1, output_padding=1), nn.Hardswish(),
                nn.Upsample(scale_factor=2), nn.ConstantPad1d((1, 1), 0.0), nn.Conv1d(8, 2, 3),
                nn.InstanceNorm1d(2, affine=True), nn.Sigmoid())

        def forward(self, x):
            return self.decoder(self.encoder(x))

    model = AE()
    model0 = start(torch, model, init)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05, initial_accumulator_value=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.95 ** epoch)
    criterion = nn.MSELoss()
    x = torch.from_numpy(X_AE)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = criterion(model(x), x)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    vec = torch.nn.utils.parameters_to_vector(model.parameters())
    return {"model0": model0, "losses": losses, "n_params": vec.numel(), "vec_norm": (vec * vec).sum().sqrt().item()}


def test_autoencoder_ports():
    run_both(autoencoder_script)


def test_worker_loaded_batches_equal_single_process_batches():
    # QingyuanWang/ECG_classification loads with num_workers=2: the batches are those of num_workers=0
    ds = nnlite.utils.data.TensorDataset(nnlite.from_numpy(X_ECG), nnlite.from_numpy(Y_ECG))
    a = [(x.numpy(), y.numpy()) for x, y in nnlite.utils.data.DataLoader(ds, batch_size=5, num_workers=2)]
    b = [(x.numpy(), y.numpy()) for x, y in nnlite.utils.data.DataLoader(ds, batch_size=5)]
    for (xa, ya), (xb, yb) in zip(a, b):
        numpy.testing.assert_array_equal(xa, xb)
        numpy.testing.assert_array_equal(ya, yb)
