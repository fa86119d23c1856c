"""FVSBN, MADE and the four image models (PixelCNN, Gated PixelCNN, Row LSTM,
Diagonal BiLSTM) written plainly in PyTorch, each the same network as
arlab's bench configuration (same layers, kernels, masks, hidden units,
Bernoulli head and parameter count), timed like `arlab bench`: training
(forward, mean NLL, backward, Adam) and evaluation (exact NLL under no_grad,
summed per image in float64) images/s on random binary 28x28 images, the
median of 5 repetitions (min-max) after one warm-up step, and images per
CPU-second (all threads).

    python scripts/peer_models.py [SECONDS] [THREADS] [--models NAME ...]
                                  [--batch N ...] [--check]

SECONDS defaults to 5, THREADS to 2; NAME is one of fvsbn, made, pixelcnn,
gated_pixelcnn, row_lstm, diagonal_bilstm (default: all). `made` is both
MADEs of experiments/model_family.yaml, as `arlab bench --models made`
measures them: made-h500-m8 and made-h500x500-m32-direct. The image models
are the `small` presets (arlab's built-in bench family). `--check` first
verifies on one 8x8 image that every model is causal: the gradient of the
logit at pixel i with respect to input pixel j is zero for every j >= i in
raster order (MADE: under each mask's own ordering).

arlab's side, on the same machine right before:

    ./target/release/arlab bench --samples 0 --seconds 5 \\
        --models fvsbn pixelcnn gated_pixelcnn row_lstm diagonal_bilstm
    ./target/release/arlab bench experiments/model_family.yaml --models made \\
        --samples 0 --seconds 5

Both sides allocate their activations through glibc malloc, which by default
hands large blocks to mmap and back on every free until its dynamic
threshold rises; a process that stays in that state page-faults on every
step, and the image models lose a third to a half of their speed, at random
from one run to the next. Running both with MALLOC_MMAP_THRESHOLD_=67108864
MALLOC_TRIM_THRESHOLD_=268435456 in the environment removes that source of
noise (and makes both faster)."""
import argparse
import statistics
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

SIDE = 28


def shift_down(x):
    """Moves a [B, C, H, W] map down one row, zeros on top."""
    return F.pad(x, (0, 0, 1, 0))[:, :, : x.shape[2]]


def gate(x):
    """tanh(first half) * sigmoid(second half) along the channels."""
    a, b = x.chunk(2, 1)
    return torch.tanh(a) * torch.sigmoid(b)


def lstm_cell(pre, c):
    """One LSTM step on pre-activations [B, 4h, N] (o, f, i, g): new (h, c)."""
    o, f, i, g = pre.chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class MaskedConv2d(nn.Conv2d):
    """A "same" convolution whose weight is multiplied by a fixed causal mask
    in every forward pass: taps in the rows above the centre and left of it
    are open, the centre tap only for mask B (one channel group: binary)."""

    def __init__(self, c_in, c_out, kernel, mask_type):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        super().__init__(c_in, c_out, (kh, kw), padding=(kh // 2, kw // 2))
        mask = torch.zeros_like(self.weight)
        mask[:, :, : kh // 2] = 1
        mask[:, :, kh // 2, : kw // 2 + (mask_type == "B")] = 1
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Fvsbn(nn.Module):
    """p(x_t = 1) = sigmoid(b_t + sum_{s<t} W_ts x_s), W strictly lower
    triangular and stored packed (D + D(D-1)/2 parameters, as arlab), made
    dense in every forward pass."""

    label = "fvsbn"

    def __init__(self, side=SIDE):
        super().__init__()
        d = side * side
        rows, cols = torch.tril_indices(d, d, -1)
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)
        self.w = nn.Parameter(torch.randn(rows.numel()) * 0.01)
        self.b = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        d = self.b.numel()
        w = self.w.new_zeros(d, d).index_put((self.rows, self.cols), self.w)
        return F.linear(x.flatten(1), w, self.b).view_as(x)


class Made(nn.Module):
    """MADE with ReLU hidden layers and K fixed masks (mask 0 under raster
    order, mask k >= 1 under a random ordering with its own hidden degrees);
    training uses mask (step mod K), evaluation mask 0."""

    def __init__(self, hidden, num_masks, direct, side=SIDE, seed=0):
        super().__init__()
        d = side * side
        sizes = [d, *hidden, d]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.direct = nn.Linear(d, d, bias=False) if direct else None
        self.label = f"made-h{'x'.join(map(str, hidden))}-m{num_masks}" + ("-direct" if direct else "")
        self.num_masks, self.mask = num_masks, 0
        g = torch.Generator().manual_seed(seed)
        masks = [[] for _ in sizes[1:]]
        direct_masks, self.orders = [], []
        for k in range(num_masks):
            deg_in = torch.arange(1, d + 1) if k == 0 else torch.randperm(d, generator=g) + 1
            self.orders.append(torch.argsort(deg_in))  # pixel visited at each step
            below, low = deg_in, 1
            for layer, h in enumerate(hidden):
                deg = torch.randint(low, max(d - 1, low) + 1, (h,), generator=g)
                masks[layer].append(deg[:, None] >= below[None, :])
                below, low = deg, int(deg.min())
            masks[-1].append(deg_in[:, None] > below[None, :])
            direct_masks.append(deg_in[:, None] > deg_in[None, :])
        for layer, m in enumerate(masks):
            self.register_buffer(f"mask{layer}", torch.stack(m).float())
        if direct:
            self.register_buffer("direct_mask", torch.stack(direct_masks).float())

    def forward(self, x):
        k, flat = self.mask, x.flatten(1)
        h = flat
        for layer, linear in enumerate(self.layers):
            h = F.linear(h, linear.weight * getattr(self, f"mask{layer}")[k], linear.bias)
            if layer < len(self.layers) - 1:
                h = F.relu(h)
        if self.direct is not None:
            h = h + F.linear(flat, self.direct.weight * self.direct_mask[k])
        return h.view_as(x)


class PixelCnn(nn.Module):
    """7x7 mask-A convolution to 2h features, residual blocks (1x1 down to h,
    3x3 mask B, 1x1 up to 2h, ReLU before each), then ReLU, 1x1 to o, ReLU,
    1x1 to one logit (all 1x1 layers mask B, as arlab)."""

    label = "pixelcnn-small"

    def __init__(self, blocks=4, hidden=8, output_hidden=32):
        super().__init__()
        f, h, o = 2 * hidden, hidden, output_hidden
        self.first = MaskedConv2d(1, f, 7, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList([MaskedConv2d(f, h, 1, "B"), MaskedConv2d(h, h, 3, "B"), MaskedConv2d(h, f, 1, "B")])
            for _ in range(blocks)
        )
        self.out1 = MaskedConv2d(f, o, 1, "B")
        self.out2 = MaskedConv2d(o, 1, 1, "B")

    def forward(self, x):
        y = self.first(x * 2 - 1)
        for down, mid, up in self.blocks:
            y = up(F.relu(mid(F.relu(down(F.relu(y)))))) + y
        return self.out2(F.relu(self.out1(F.relu(y))))


class GatedPixelCnn(nn.Module):
    """Vertical stack ((k/2+1) x k convolution over the rows above and the
    current row) and horizontal stack (1 x k mask A in the first layer, B
    after), the vertical pre-activation shifted down one row and through a
    1x1 convolution into the horizontal one; tanh*sigmoid gates; 1x1
    horizontal output (residual after the first layer) and 1x1 skip
    connections, summed into ReLU, 1x1 to o, ReLU, 1x1 to one logit."""

    label = "gated_pixelcnn-small"

    def __init__(self, layers=5, hidden=16, kernel=3, output_hidden=32):
        super().__init__()
        h, n, o = hidden, kernel, output_hidden
        self.pad = n // 2
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "v_conv": nn.Conv2d(1 if l == 0 else h, 2 * h, (n // 2 + 1, n)),
                "v_to_h": nn.Conv2d(2 * h, 2 * h, 1),
                "h_conv": MaskedConv2d(1 if l == 0 else h, 2 * h, (1, n), "A" if l == 0 else "B"),
                "h_out": MaskedConv2d(h, h, 1, "B"),
                "skip": MaskedConv2d(h, h, 1, "B"),
            })
            for l in range(layers)
        )
        self.out1 = MaskedConv2d(h, o, 1, "B")
        self.out2 = MaskedConv2d(o, 1, 1, "B")

    def forward(self, x):
        v = h = x * 2 - 1
        p, skips = self.pad, 0
        for l, layer in enumerate(self.layers):
            v_pre = layer["v_conv"](F.pad(v, (p, p, p, 0)))
            h_gated = gate(layer["h_conv"](h) + layer["v_to_h"](shift_down(v_pre)))
            h = layer["h_out"](h_gated) + (h if l > 0 else 0)
            v = gate(v_pre)
            skips = skips + layer["skip"](h_gated)
        return self.out2(F.relu(self.out1(F.relu(skips))))


class RowLstm(nn.Module):
    """7x7 mask-A convolution to 2h features, then LSTM layers scanning the
    image a row at a time (input-to-state 1x3 mask B over the layer's input,
    state-to-state unmasked 1x3 over the previous row's h, no bias), each
    back to 2h by a 1x1 convolution with a residual connection; ReLU, 1x1 to
    o, ReLU, 1x1 to one logit."""

    label = "row_lstm-small"

    def __init__(self, layers=2, hidden=16, output_hidden=32):
        super().__init__()
        f, h, o = 2 * hidden, hidden, output_hidden
        self.first = MaskedConv2d(1, f, 7, "A")
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "i2s": MaskedConv2d(f, 4 * h, (1, 3), "B"),
                "s2s": nn.Conv1d(h, 4 * h, 3, padding=1, bias=False),
                "up": MaskedConv2d(h, f, 1, "B"),
            })
            for _ in range(layers)
        )
        self.out1 = MaskedConv2d(f, o, 1, "B")
        self.out2 = MaskedConv2d(o, 1, 1, "B")

    @staticmethod
    def scan(layer, y):
        pre = layer["i2s"](y)
        h = pre.new_zeros(pre.shape[0], pre.shape[1] // 4, pre.shape[3])
        c, states = torch.zeros_like(h), []
        for row in pre.unbind(2):
            h, c = lstm_cell(row + layer["s2s"](h), c)
            states.append(h)
        return torch.stack(states, 2)

    def forward(self, x):
        y = self.first(x * 2 - 1)
        for layer in self.layers:
            y = layer["up"](self.scan(layer, y)) + y
        return self.out2(F.relu(self.out1(F.relu(y))))


def skew(x):
    """[B, C, H, W] -> [B, C, H, W+H-1] with S[i, i+j] = X[i, j]."""
    b, c, h, w = x.shape
    return F.pad(x, (0, h)).reshape(b, c, h * (w + h))[:, :, : h * (w + h - 1)].reshape(b, c, h, w + h - 1)


def unskew(s, width):
    """The inverse of skew: X[i, j] = S[i, i+j], [B, C, H, width]."""
    b, c, h, sw = s.shape
    return F.pad(s.reshape(b, c, h * sw), (0, h)).reshape(b, c, h, sw + 1)[..., :width]


class DiagonalBiLstm(nn.Module):
    """7x7 mask-A convolution to 2h features, then layers of two LSTM scans
    along diagonals: each direction a 1x1 mask-B input-to-state convolution,
    the map skewed so diagonals become columns, and a 2x1 state-to-state
    convolution (no bias) over the previous column with a zero row on top;
    the right-to-left scan runs on the width-flipped map, flipped back and
    shifted down one row; the sum goes back to 2h by a 1x1 convolution with
    a residual connection; ReLU, 1x1 to o, ReLU, 1x1 to one logit."""

    label = "diagonal_bilstm-small"

    def __init__(self, layers=2, hidden=16, output_hidden=32):
        super().__init__()
        f, h, o = 2 * hidden, hidden, output_hidden
        direction = lambda: nn.ModuleDict({  # noqa: E731
            "i2s": MaskedConv2d(f, 4 * h, 1, "B"),
            "s2s": nn.Conv1d(h, 4 * h, 2, bias=False),
        })
        self.first = MaskedConv2d(1, f, 7, "A")
        self.layers = nn.ModuleList(
            nn.ModuleDict({"left": direction(), "right": direction(), "up": MaskedConv2d(h, f, 1, "B")})
            for _ in range(layers)
        )
        self.out1 = MaskedConv2d(f, o, 1, "B")
        self.out2 = MaskedConv2d(o, 1, 1, "B")

    @staticmethod
    def scan(direction, y):
        pre = skew(direction["i2s"](y))
        h = pre.new_zeros(pre.shape[0], pre.shape[1] // 4, pre.shape[2])
        c, states = torch.zeros_like(h), []
        for column in pre.unbind(3):
            h, c = lstm_cell(column + direction["s2s"](F.pad(h, (1, 0))), c)
            states.append(h)
        return unskew(torch.stack(states, 3), y.shape[3])

    def forward(self, x):
        y = self.first(x * 2 - 1)
        for layer in self.layers:
            right = shift_down(self.scan(layer["right"], y.flip(3)).flip(3))
            y = layer["up"](self.scan(layer["left"], y) + right) + y
        return self.out2(F.relu(self.out1(F.relu(y))))


MODELS = {
    "fvsbn": [lambda side: Fvsbn(side)],
    "made": [
        lambda side: Made([500], 8, False, side),
        lambda side: Made([500, 500], 32, True, side),
    ],
    "pixelcnn": [lambda side: PixelCnn()],
    "gated_pixelcnn": [lambda side: GatedPixelCnn()],
    "row_lstm": [lambda side: RowLstm()],
    "diagonal_bilstm": [lambda side: DiagonalBiLstm()],
}
ARLAB_PARAMS = {
    "fvsbn": 307_720,
    "made-h500-m8": 785_284,
    "made-h500x500-m32-direct": 1_650_440,
    "pixelcnn-small": 4_833,
    "gated_pixelcnn-small": 27_617,
    "row_lstm-small": 22_337,
    "diagonal_bilstm-small": 20_417,
}


def nll(model, x):
    """Negative log-likelihood per pixel, [B, 1, H, W]."""
    return F.binary_cross_entropy_with_logits(model(x), x, reduction="none")


def rate(step, batch, seconds):
    step()
    reps, cpu, images = [], time.process_time(), 0
    for _ in range(5):
        t, n = time.perf_counter(), 0
        while True:
            step()
            n += batch
            if time.perf_counter() - t >= seconds / 5:
                break
        reps.append(n / (time.perf_counter() - t))
        images += n
    per_cpu = images / (time.process_time() - cpu)
    return statistics.median(reps), min(reps), max(reps), per_cpu


def check_causal(model, order=None, side=8):
    """The Jacobian of the logits w.r.t. the input on one side x side image,
    in float64, rows and columns in visiting order (`order`, default raster):
    row i must be zero at every j >= i. Returns (nonzero entries at j >= i,
    nonzero entries at j < i, entries at j < i)."""
    d = side * side
    x = torch.rand(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    out = model.double()(x).flatten()
    jac = torch.stack([torch.autograd.grad(out[i], x, retain_graph=True)[0].flatten() for i in range(d)])
    if order is not None:
        jac = jac[order][:, order]
    upper = torch.ones(d, d, dtype=torch.bool).triu()
    return int((jac[upper] != 0).sum()), int((jac[~upper] != 0).sum()), d * (d - 1) // 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=5)
    parser.add_argument("threads", nargs="?", type=int, default=2)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--batch", nargs="+", type=int, default=[100])
    parser.add_argument("--check", action="store_true", help="check causality on an 8x8 image first")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.check:
        for name in args.models:
            for build in MODELS[name]:
                torch.manual_seed(0)
                model = build(8)
                for k in range(getattr(model, "num_masks", 1)):
                    model.mask = k
                    order = model.orders[k] if isinstance(model, Made) else None
                    bad, nonzero, below = check_causal(model, order)
                    print(f"causality {model.label}{f' mask {k}' if order is not None else ''}: "
                          f"{'ok' if bad == 0 else 'VIOLATED'} ({bad} nonzero at j >= i; "
                          f"{nonzero} of the {below} at j < i nonzero)", flush=True)

    for name in args.models:
        for build in MODELS[name]:
            for batch in args.batch:
                torch.manual_seed(0)
                model = build(SIDE)
                params = sum(p.numel() for p in model.parameters())
                opt = torch.optim.Adam(model.parameters(), 1e-3)
                x = (torch.rand(batch, 1, SIDE, SIDE) < 0.5).float()
                steps = 0

                def train():
                    nonlocal steps
                    steps += 1
                    if isinstance(model, Made):
                        model.mask = steps % model.num_masks
                    opt.zero_grad()
                    nll(model, x).sum((1, 2, 3)).mean().backward()
                    opt.step()

                def evaluate():
                    with torch.no_grad():
                        nll(model, x).double().sum((1, 2, 3))

                tr = rate(train, batch, args.seconds)
                if isinstance(model, Made):
                    model.mask = 0
                ev = rate(evaluate, batch, args.seconds)
                print(f"{model.label} batch {batch}: {params} parameters (arlab {ARLAB_PARAMS[model.label]}); "
                      f"train {tr[0]:.0f} img/s ({tr[1]:.0f}-{tr[2]:.0f}), {tr[3]:.0f} per CPU-second; "
                      f"eval {ev[0]:.0f} img/s ({ev[1]:.0f}-{ev[2]:.0f}), {ev[3]:.0f} per CPU-second; "
                      f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)


if __name__ == "__main__":
    main()
