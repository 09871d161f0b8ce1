//===- Passes.td - lopt passes ------------------------------*- tablegen -*-===//
#ifndef LOPT_PASSES_TD
#define LOPT_PASSES_TD

include "mlir/Pass/PassBase.td"

def DifferentiateLearners : Pass<"lopt-differentiate-learners", "mlir::ModuleOp"> {
  let summary = "Add the gradient of every learner's loss w.r.t. its parameters";
  let description = [{
    For each function tagged `lopt.learner` (except the query instances of
    episodes, whose gradient nothing uses), adds `@<name>.grad`, tagged
    `lopt.gradient_of`, with the same arguments, returning the learner's
    results followed by d(loss)/d(parameter) for every `param` argument
    (result role `grad`). The reverse sweep is built from each op's
    vector-Jacobian rule; learner rules emit differentiable ops only, so the
    gradient can itself be differentiated (`meta_gradient full`).

    Before:
    ```mlir
    func.func @l(%x: tensor<2x4xf32> {lopt.role = "input"}, %y: tensor<2xi32> {lopt.role = "labels"},
                 %w: tensor<3x4xf32> {lopt.role = "param"}, %b: tensor<3xf32> {lopt.role = "param"})
        -> (tensor<f32>, tensor<2x3xf32>) attributes {lopt.learner = "l"} {
      %0 = lopt.linear %x, %w, %b : ...
      %1 = lopt.cross_entropy %0, %y : ...
      return %1, %0 : ...
    }
    ```
    After, in addition: `func.func @l.grad(...same arguments...) -> (loss,
    logits, dloss/dw, dloss/db)` whose body is the forward ops followed by
    `lopt.logsumexp`, `lopt.one_hot`, `lopt.matmul`, `lopt.reduce_sum`, ...
  }];
}

def UnrollEpisodes : Pass<"lopt-unroll-episodes", "mlir::ModuleOp"> {
  let summary = "Unroll each episode's inner loop into one flat function";
  let description = [{
    For each `lopt.episode @E`, adds `@E.unrolled`: T inner steps of
    (support-batch forward and backward of the learner, inlined from
    `@E.support.grad`; the cell applied to every coordinate of the flat
    parameter vector with `lopt.map_cell`), then the query loss at theta_T.
    Arguments: support and query images and labels, theta_0 (flat), the
    cell's initial states (one row per coordinate), shared and
    per-coordinate meta-parameters. Results: the meta-loss, query logits,
    the T support losses, theta_T and, when batch norm evaluates with
    running statistics, the evaluation-mode query loss and logits.

    The truncation policy is made explicit with `lopt.stop_gradient`:
    `first_order` stops each step's loss and gradient; `horizon(k)` does
    that and also stops theta and the cell state entering step T-k; `full`
    stops nothing. Requires `lopt-differentiate-learners` first.
  }];
  let dependentDialects = ["::lopt::LoptDialect"];
}

def MetaBackward : Pass<"lopt-meta-backward", "mlir::ModuleOp"> {
  let summary = "Differentiate each unrolled episode w.r.t. its meta-parameters";
  let description = [{
    For each `@E.unrolled`, adds `@E.meta_grad` returning the unrolled
    results followed by d(meta-loss)/d(meta-parameter) for every argument
    with role `meta` or `meta_coord` (result role `grad`, named
    `grad.<argument name>`). `lopt.map_cell` is differentiated by mapping
    `@<cell>.vjp`, the cell's own vector-Jacobian function, which this pass
    adds; adjoints of shared meta-parameters are summed over coordinates.
  }];
}

def FoldConstants : Pass<"lopt-fold-constants", "mlir::ModuleOp"> {
  let summary = "Fold arithmetic on splat constants into a constant";
  let description = [{
    `lopt.add`, `sub`, `mul`, `div` and `neg` whose operands are splat f32
    constants, and `lopt.broadcast` and `lopt.reshape` of one, become the
    splat constant of their result, computed in float (as the reference
    interpreter computes them: the same value to the bit). A reverse
    sweep's `1 / N` is then a constant, not a kernel of its own each step.
    Constants that nothing reads any more are removed.

    Before:
    ```mlir
    %one = lopt.constant dense<1.0> : tensor<f32>
    %n = lopt.constant dense<25.0> : tensor<f32>
    %s = lopt.div %one, %n : (tensor<f32>, tensor<f32>) -> tensor<f32>
    ```
    After: `%s = lopt.constant dense<4.000000e-02> : tensor<f32>`.
  }];
  let dependentDialects = ["::lopt::LoptDialect"];
}

def FoldUnsliceSums : Pass<"lopt-fold-unslice-sums", "mlir::ModuleOp"> {
  let summary = "Fold a sum of unslices of disjoint ranges into one concat";
  let description = [{
    A reverse sweep through slices of one flat vector (theta, sliced into
    a learner's parameters) sums the parameters' adjoints unsliced into the
    vector: a tree of `lopt.add`s over `lopt.unslice`s, a kernel each. Where
    the tree's leaves (through adds that only the tree reads) are all
    unslices of disjoint ranges of a vector, it becomes one `lopt.concat`
    of the pieces in order, with zero constants between them. Exact: the
    sum adds zeros to each element but one.

    Before:
    ```mlir
    %a = lopt.unslice %x {offsets = array<i64: 0>} : (tensor<2xf32>) -> tensor<5xf32>
    %b = lopt.unslice %y {offsets = array<i64: 3>} : (tensor<2xf32>) -> tensor<5xf32>
    %s = lopt.add %a, %b : (tensor<5xf32>, tensor<5xf32>) -> tensor<5xf32>
    ```
    After:
    ```mlir
    %z = lopt.constant dense<0.000000e+00> : tensor<1xf32>
    %s = lopt.concat %x, %z, %y : (tensor<2xf32>, tensor<1xf32>, tensor<2xf32>) -> tensor<5xf32>
    ```
  }];
  let dependentDialects = ["::lopt::LoptDialect"];
}

def Rematerialize : Pass<"lopt-rematerialize", "mlir::ModuleOp"> {
  let summary = "Recompute activations where a backward reads them";
  let description = [{
    A value `v` that is batchnorm's result `y`, or a chain of one-operand
    element-wise ops on it (`relu %y`), and that is used again after its
    first use while batchnorm's input `x` is still used at or after those
    uses (as the reverse sweep's batchnorm backward does), is recomputed
    from `x` and the per-channel vectors right before its first later use:
    `gamma * ((x - mean) * inv_std) + beta`, broadcast per channel, then the
    chain. The later uses read the recomputation, so the forward's value
    dies at its first use; the recomputation, element-wise, fuses into the
    kernel that reads it. Nothing stays alive longer than before but four
    per-channel vectors.

    Before:
    ```mlir
    %y, %nm, %nv, %mean, %inv = lopt.batchnorm %x, %gamma, %beta, %m0, %v0 ...
    %r = lopt.relu %y
    %p = lopt.maxpool %r ...
    ...
    %d = lopt.maxpool_backward %r, %g ...
    %s = lopt.sub %x, ...
    ```
    After: `maxpool_backward` reads `lopt.relu` of
    `lopt.add(lopt.mul(broadcast %gamma, lopt.mul(lopt.sub(%x, broadcast
    %mean), broadcast %inv)), broadcast %beta)`, built just before it.

    Then a `conv2d` result of at least `min-conv-bytes` (32 MiB) that is
    used again after its first use is recomputed right before its first
    later use, when the convolution is cheap (at most 32 multiply-adds per
    element: a first layer's 3 input channels x 3 x 3) and what it reads
    stays alive until then anyway (a function argument: the episode's
    images) or is at most 1/64 of its result (the weights). The batchnorm
    backward of a first layer reads the convolution's result, so without
    this it stays alive from the forward to the backward (64.6 MiB for a
    Mini-ImageNet query of 75 images). The copy carries `lopt.recomputed`,
    so that CSE does not merge it back into the forward's convolution.
    Smaller results are kept: recomputing costs a convolution each, and
    saves little (the 25 images of a support set: 21.5 MiB).

    Last, a step of the update cell (`map_cell`) whose results of at least
    `min-cell-bytes` (1 MiB: the LSTM states of a learner's coordinates)
    are read again, after the next step, by a later `map_cell` (the cell's
    VJP at the next step) is recomputed right before that read, when what
    it reads is alive there anyway (its step's inputs and states, which its
    own VJP reads later) or small. A recomputed step's states then die at
    their first use, so the next step is not recomputed: every other step's
    states stay alive from the forward to the backward, and the backward
    recomputes the others with one cell call each (a Mini-ImageNet 5w5s
    meta-gradient: 4 calls, 20 MiB fewer alive at the peak).
  }];
  let options = [
    Option<"minConvBytes", "min-conv-bytes", "int64_t", /*default=*/"32 << 20",
           "Recompute convolution results of at least this many bytes">,
    Option<"minCellBytes", "min-cell-bytes", "int64_t", /*default=*/"1 << 20",
           "Recompute cell steps whose results read later take at least this "
           "many bytes">
  ];
  let dependentDialects = ["::lopt::LoptDialect"];
}

#endif // LOPT_PASSES_TD
