"""Reference values of tests/test_parity.py::test_paper_preset_is_the_authors_procedure.

Reads the authors' experiment_sharpness_and_grokking_gap from their tiny-gen.py
(github.com/jackmiller2003/tiny-gen, branch feat/sharpness-and-gap, commit bce97255bff5) by its
syntax tree, without running it (it needs torch, gpytorch and the authors' data folders), and
prints what the test asserts: the hyper-parameters, the default input sizes, the erf model's
c and d, the time axis the fits use and the threshold test.

Run: python tests/reference/parity_authors_constants.py PATH/TO/tiny-gen.py
"""

import ast
import sys

NAMES = ("weight_decay", "learning_rate", "batch_size", "k", "hidden_size", "epochs",
         "number_training_samples", "number_validation_samples", "random_seeds", "threshold")


def main(path: str) -> None:
    tree = ast.parse(open(path).read())
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                and n.name == "experiment_sharpness_and_grokking_gap")
    for arg, default in zip(func.args.args[-len(func.args.defaults):], func.args.defaults, strict=True):
        value = eval(compile(ast.Expression(default), path, "eval"),  # list(range(25, 46))
                     {"__builtins__": {"list": list, "range": range}})
        print(f"{arg.arg} = {ast.unparse(default)} -> {value[0]}..{value[-1]} ({len(value)} sizes)")
    for node in func.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in NAMES:
            print(f"{node.targets[0].id} = {ast.literal_eval(node.value)!r}")
    model = next(n for n in ast.walk(func) if isinstance(n, ast.FunctionDef)
                 and n.name == "error_function_model")
    for node in model.body:
        if isinstance(node, ast.Assign):
            value = eval(compile(ast.Expression(node.value), path, "eval"), {"__builtins__": {}})  # 1/4
            print(f"error_function_model: {node.targets[0].id} = {ast.unparse(node.value)} = {value!r}")
        elif isinstance(node, ast.Return):
            print(f"error_function_model returns {ast.unparse(node.value)}")
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "curve_fit":
            print(f"curve_fit time axis: {ast.unparse(node.args[1])}")
        if isinstance(node, ast.Compare) and "threshold" in ast.unparse(node.comparators[0]) \
                and ast.unparse(node).endswith("accuracy > threshold"):
            print(f"threshold test: {ast.unparse(node)} (strict)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1])
