"""A plain per-step NADE in PyTorch (the formulation of pytorch-generative's
NADE, which is not on PyPI: a Python loop over the D steps, each a few
batched ops), timed like `arlab bench`: training (forward, backward, Adam)
and evaluation images/s, the median of 5 repetitions (min-max), and images
per CPU-second (all threads).

    python scripts/peer_nade.py [SECONDS] [THREADS]    (defaults 5, 2)"""
import sys

import torch

from peer_models import rate  # timed like `arlab bench`

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
D, H = 784, 500

class Nade(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(D, H) * 0.01)
        self.c = torch.nn.Parameter(torch.zeros(H))
        self.v = torch.nn.Parameter(torch.randn(D, H) * 0.01)
        self.b = torch.nn.Parameter(torch.zeros(D))

    def forward(self, x):
        a = self.c.expand(x.shape[0], -1)
        out = []
        for t in range(D):
            out.append(torch.sigmoid(a) @ self.v[t] + self.b[t])
            a = a + x[:, t : t + 1] * self.w[t]
        return torch.stack(out, 1)

def nll(model, x):
    return torch.nn.functional.binary_cross_entropy_with_logits(model(x), x, reduction="none").sum(1)

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
for batch in [100, 512]:
    torch.manual_seed(0)
    model = Nade()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = (torch.rand(batch, D) < 0.5).float()
    def train():
        opt.zero_grad(); nll(model, x).mean().backward(); opt.step()
    def evaluate():
        with torch.no_grad():
            nll(model, x).double().sum()
    tr, ev = rate(train, batch, seconds), rate(evaluate, batch, seconds)
    print(f"batch {batch}: train {tr[0]:.0f} img/s ({tr[1]:.0f}-{tr[2]:.0f}), {tr[3]:.0f} per CPU-second; "
          f"eval {ev[0]:.0f} img/s ({ev[1]:.0f}-{ev[2]:.0f}), {ev[3]:.0f} per CPU-second; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
