"""Reference values of tests/test_parity.py::test_authors_run_reproduces_pytorch_streams.

The authors' draws (github.com/jackmiller2003/tiny-gen, branch feat/sharpness-and-gap: ParityTask
and HiddenDataset in src/dataset.py, torch.utils.data.random_split in tiny-gen.py, TinyModel in
src/model.py) for seed 0, k = 3, input size 7, hidden 32, 64 samples of which 43 train, computed
two ways without the package:

  * torch: the authors' calls themselves, in the order the experiment makes them (their classes
    cut to the lines that draw; their modules import gpytorch and sympy, which nothing here needs);
    needs PyTorch (any CPU build; the values were taken with 2.13.0+cpu).
  * pure Python: MT19937 written out from Matsumoto & Nishimura's init_genrand/genrand_int32 and
    ATen's CPU transformations (randint: word mod range; uniform_ on float32: 24 low bits of a
    word · 2⁻²⁴, scaled in double, rounded to float32; randperm: Fisher–Yates swapping i with
    i + word mod (n − i)). No torch, no numpy.random (which the package uses).

Prints both (and whether they agree bit for bit) and the test's constants where it finds them.

Run: python tests/reference/parity_torch_streams.py   (torch optional)
"""

import ast
import math
from pathlib import Path

import numpy as np

SEED, K, N_INPUTS, HIDDEN, N_TRAIN, N_VAL = 0, 3, 7, 32, 43, 21
TEST_FILE = Path(__file__).resolve().parents[1] / "test_parity.py"


def with_torch() -> dict:
    import torch
    from torch import nn

    n_total = N_TRAIN + N_VAL
    # ParityTask.__init__/_generate_data: seed, bits, one-hot parity ([1, 0] for product −1).
    torch.manual_seed(SEED)
    data = torch.randint(0, 2, (n_total, K))
    targets = []
    for seq in data:
        one_hot = torch.zeros(2)
        one_hot[0 if torch.prod(torch.tensor([-1 if p == 0 else 1 for p in seq])) == -1 else 1] = 1
        targets.append(one_hot)
    # HiddenDataset: re-seed, then n − k spurious bits per sample, sample by sample.
    torch.manual_seed(SEED)
    examples = []
    for point in data:
        new = torch.zeros(N_INPUTS)
        new[:K] = point
        new[K:] = torch.randint(0, 2, (N_INPUTS - K, 1)).squeeze()
        examples.append(new)
    dataset = torch.utils.data.TensorDataset(torch.stack(examples), torch.stack(targets))
    train, _ = torch.utils.data.random_split(dataset, [N_TRAIN, N_VAL])
    # TinyModel.__init__: re-seed, nn.Linear's default init, then Xavier-uniform weights.
    torch.manual_seed(SEED)
    fc1 = nn.Linear(N_INPUTS, HIDDEN)
    fc2 = nn.Linear(HIDDEN, 2, bias=False)
    nn.init.xavier_uniform_(fc1.weight)
    nn.init.xavier_uniform_(fc2.weight)
    x = torch.stack([train[i][0] for i in range(2)])
    y = [int(torch.argmax(train[i][1])) for i in range(6)]
    with torch.no_grad():
        return {"x": x.int().tolist(), "y": y, "b1": fc1.bias[:3].tolist(),
                "w1": fc1.weight[:3, 0].tolist(), "w2": fc2.weight[0, :3].tolist(),
                "version": torch.__version__}


class MT19937:
    """Matsumoto & Nishimura (1998), mt19937ar.c: init_genrand and genrand_int32."""

    def __init__(self, seed: int):
        self.state = [seed & 0xFFFFFFFF]
        for i in range(1, 624):
            prev = self.state[-1]
            self.state.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
        self.index = 624

    def __call__(self) -> int:
        if self.index == 624:
            for i in range(624):
                y = (self.state[i] & 0x80000000) | (self.state[(i + 1) % 624] & 0x7FFFFFFF)
                self.state[i] = self.state[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        return y ^ (y >> 18)


def uniform_f32(gen: MT19937, count: int, bound: float) -> list[float]:
    lo, hi = float(np.float32(-bound)), float(np.float32(bound))  # from, to cast to float first
    return [float(np.float32((gen() & 0xFFFFFF) * 2.0**-24 * (hi - lo) + lo)) for _ in range(count)]


def pure_python() -> dict:
    n_total = N_TRAIN + N_VAL
    gen = MT19937(SEED)
    parity_bits = [[gen() % 2 for _ in range(K)] for _ in range(n_total)]
    gen = MT19937(SEED)  # HiddenDataset re-seeds
    bits = [row + [gen() % 2 for _ in range(N_INPUTS - K)] for row in parity_bits]
    order = list(range(n_total))  # random_split: randperm on the same generator
    for i in range(n_total - 1):
        z = i + gen() % (n_total - i)
        order[i], order[z] = order[z], order[i]
    labels = [int(math.prod(2 * b - 1 for b in row[:K]) == 1) for row in bits]
    gen = MT19937(SEED)  # TinyModel re-seeds
    for _ in range(HIDDEN * N_INPUTS):  # fc1.weight, Kaiming-uniform, redrawn below
        gen()
    b1 = uniform_f32(gen, HIDDEN, 1 / math.sqrt(N_INPUTS))
    for _ in range(2 * HIDDEN):  # fc2.weight, Kaiming-uniform, redrawn below
        gen()
    # xavier_uniform_: bound √3 · gain · √(2/(fan_in + fan_out)), row-major over (out, in).
    w1 = uniform_f32(gen, HIDDEN * N_INPUTS, math.sqrt(3.0) * math.sqrt(2.0 / (N_INPUTS + HIDDEN)))
    w2 = uniform_f32(gen, 2 * HIDDEN, math.sqrt(3.0) * math.sqrt(2.0 / (HIDDEN + 2)))
    return {"x": [bits[order[i]] for i in range(2)], "y": [labels[order[i]] for i in range(6)],
            "b1": b1[:3], "w1": [w1[j * N_INPUTS] for j in range(3)], "w2": w2[:3]}


def test_constants() -> list | None:
    """The literal lists of the test, in source order (x, y, b1, w1, w2), read without importing it."""
    if not TEST_FILE.exists():
        return None
    tree = ast.parse(TEST_FILE.read_text())
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                 and n.name == "test_authors_run_reproduces_pytorch_streams"), None)
    found = []

    def visit(node):
        if isinstance(node, ast.List):
            found.append((node.lineno, node.col_offset, ast.literal_eval(node)))
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    if func is not None:
        visit(func)
    return [v for *_, v in sorted(found, key=lambda f: f[:2])]


def main() -> None:
    keys = ("x", "y", "b1", "w1", "w2")
    labels = {"x": "x_train[:2, :7]", "y": "y_train[:6]", "b1": "b1[:3]",
              "w1": "w1[0, :3] (fc1.weight[:3, 0])", "w2": "w2[:3, 0] (fc2.weight[0, :3])"}
    ref = pure_python()
    print("pure Python MT19937:")
    for k in keys:
        print(f"  {labels[k]} = {ref[k]!r}")
    try:
        got = with_torch()
    except ImportError:
        print("torch: not installed; the pure-Python values alone")
    else:
        print(f"torch {got['version']}:")
        for k in keys:
            print(f"  {labels[k]} = {got[k]!r}")
        print("torch and pure Python agree bit for bit:", all(got[k] == ref[k] for k in keys))
    consts = test_constants()
    if consts:
        print("tests/test_parity.py's constants equal the pure-Python values:",
              consts == [ref[k] for k in keys])


if __name__ == "__main__":
    main()
