//===- LoptOps.td - lopt operations -------------------------*- tablegen -*-===//
//
// Every op works on statically shaped f32 tensors (labels are i32). Shape
// rules live in ShapeRules.h so that the front end reports the same errors,
// with source locations, that the verifiers enforce.
//
//===----------------------------------------------------------------------===//
#ifndef LOPT_OPS_TD
#define LOPT_OPS_TD

include "LoptDialect.td"
include "LoptInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Lopt_F32Tensor : StaticShapeTensorOf<[F32]>;
def Lopt_Scalar : 0DTensorOf<[F32]>;
def Lopt_Labels : TensorRankOf<[I32], [1]>;

// Differentiable: the op has a vector-Jacobian rule (LoptVJP.cpp).
defvar Diff = DeclareOpInterfaceMethods<Lopt_DifferentiableOpInterface>;

//===----------------------------------------------------------------------===//
// Learner ops (batch-major, NCHW activations, OIHW conv weights)
//===----------------------------------------------------------------------===//

def Lopt_Conv2DOp : Lopt_Op<"conv2d", [Pure, Diff]> {
  let summary = "2-D convolution (cross-correlation) with bias and zero padding";
  let description = [{
    `x` is [N, C, H, W], `weight` [O, C, KH, KW], `bias` [O]; the result is
    [N, O, (H + 2 pad - KH) / stride + 1, (W + 2 pad - KW) / stride + 1].

    ```mlir
    %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64}
        : (tensor<5x1x28x28xf32>, tensor<32x1x3x3xf32>, tensor<32xf32>)
        -> tensor<5x32x28x28xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$weight,
                   Lopt_F32Tensor:$bias, I64Attr:$stride, I64Attr:$pad);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_BatchNormOp : Lopt_Op<"batchnorm", [Pure, Diff]> {
  let summary = "batch normalisation with per-episode running statistics";
  let description = [{
    Normalises over every dimension but 1 (channels of [N, C, H, W], features
    of [N, C]). `mode = "train"` uses the batch mean and biased variance and
    returns running statistics updated with Torch's convention (momentum is
    the weight of the new statistic, the running variance takes the unbiased
    batch variance). `mode = "eval"` normalises with `running_mean` and
    `running_var` and returns them unchanged. The running statistics are
    operands and results, not hidden state, so an episode resets them by
    passing fresh ones in. `mean` and `inv_std` are what it normalised with
    (the batch's or the running mean, and 1 / sqrt(variance + eps)): the
    backward reads them instead of summing the batch again.

    ```mlir
    %y, %m1, %v1, %mu, %inv = lopt.batchnorm %x, %gamma, %beta, %m0, %v0
        {eps = 1.0e-3 : f64, momentum = 0.95 : f64, mode = "train"}
        : (tensor<5x32x28x28xf32>, tensor<32xf32>, tensor<32xf32>,
           tensor<32xf32>, tensor<32xf32>)
        -> (tensor<5x32x28x28xf32>, tensor<32xf32>, tensor<32xf32>,
            tensor<32xf32>, tensor<32xf32>)
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$gamma,
                   Lopt_F32Tensor:$beta, Lopt_F32Tensor:$running_mean,
                   Lopt_F32Tensor:$running_var, F64Attr:$eps,
                   F64Attr:$momentum, StrAttr:$mode);
  let results = (outs Lopt_F32Tensor:$y, Lopt_F32Tensor:$new_mean,
                      Lopt_F32Tensor:$new_var, Lopt_F32Tensor:$mean,
                      Lopt_F32Tensor:$inv_std);
  let assemblyFormat = "$x `,` $gamma `,` $beta `,` $running_mean `,` $running_var attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_MaxPoolOp : Lopt_Op<"maxpool", [Pure, Diff]> {
  let summary = "2-D max pooling over the last two dimensions, no padding";
  let description = [{
    [N, C, H, W] -> [N, C, (H - kernel) / stride + 1, (W - kernel) / stride + 1].

    ```mlir
    %y = lopt.maxpool %x {kernel = 2 : i64, stride = 2 : i64}
        : (tensor<5x32x28x28xf32>) -> tensor<5x32x14x14xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, I64Attr:$kernel, I64Attr:$stride);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_FlattenOp : Lopt_Op<"flatten", [Pure, Diff]> {
  let summary = "collapse every dimension but the batch, row-major";
  let description = [{
    ```mlir
    %y = lopt.flatten %x : (tensor<5x32x1x1xf32>) -> tensor<5x32xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_LinearOp : Lopt_Op<"linear", [Pure, Diff]> {
  let summary = "fully connected layer: y = x weight^T + bias";
  let description = [{
    `x` is [N, I], `weight` [O, I], `bias` [O]; the result is [N, O].

    ```mlir
    %y = lopt.linear %x, %w, %b
        : (tensor<5x64xf32>, tensor<5x64xf32>, tensor<5xf32>) -> tensor<5x5xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$weight,
                   Lopt_F32Tensor:$bias);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_CrossEntropyOp : Lopt_Op<"cross_entropy", [Pure, Diff]> {
  let summary = "batch mean of softmax cross-entropy";
  let description = [{
    `logits` is [N, C], `labels` [N] with values in [0, C).

    ```mlir
    %loss = lopt.cross_entropy %logits, %labels
        : (tensor<5x5xf32>, tensor<5xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$logits, Lopt_Labels:$labels);
  let results = (outs Lopt_Scalar:$loss);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Cell ops (one learner-parameter coordinate: rank-0 and rank-1 tensors)
//===----------------------------------------------------------------------===//

def Lopt_PreprocessOp : Lopt_Op<"preprocess", [Pure, Diff]> {
  let summary = "gradient preprocessing of Andrychowicz et al. (2016)";
  let description = [{
    Each element x becomes the pair (log(|x|) / p, sign(x)) when
    |x| >= exp(-p), else (-1, exp(p) x). A tensor of n elements becomes a
    vector of 2n, pairs interleaved.

    ```mlir
    %g2 = lopt.preprocess %g {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, F64Attr:$p);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_ConcatOp : Lopt_Op<"concat", [Pure, Diff]> {
  let summary = "concatenate scalars and vectors into one vector";
  let description = [{
    ```mlir
    %v = lopt.concat %h, %param, %f
        : (tensor<20xf32>, tensor<f32>, tensor<f32>) -> tensor<22xf32>
    ```
  }];
  let arguments = (ins Variadic<Lopt_F32Tensor>:$inputs);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_LSTMOp : Lopt_Op<"lstm", [Pure, Diff]> {
  let summary = "one step of a standard LSTM cell";
  let description = [{
    `x` [I], `h` and `c` [H], `weight` [4H, I + H] multiplying concat(x, h),
    `bias` [4H]. Gate rows in order input, forget, output, cell:
    c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').

    ```mlir
    %h1, %c1 = lopt.lstm %x, %h, %c, %w, %b
        : (tensor<4xf32>, tensor<20xf32>, tensor<20xf32>, tensor<80x24xf32>,
           tensor<80xf32>) -> (tensor<20xf32>, tensor<20xf32>)
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$h, Lopt_F32Tensor:$c,
                   Lopt_F32Tensor:$weight, Lopt_F32Tensor:$bias);
  let results = (outs Lopt_F32Tensor:$h_next, Lopt_F32Tensor:$c_next);
  let assemblyFormat = "$x `,` $h `,` $c `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_AffineOp : Lopt_Op<"affine", [Pure, Diff]> {
  let summary = "affine map of a vector: weight x + bias";
  let description = [{
    `x` [I]; either `weight` [O, I] and `bias` [O] giving [O], or `weight` [I]
    and a scalar `bias` giving a scalar.

    ```mlir
    %f = lopt.affine %v, %w, %b
        : (tensor<22xf32>, tensor<22xf32>, tensor<f32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$weight,
                   Lopt_F32Tensor:$bias);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops (shared by learners and cells)
//===----------------------------------------------------------------------===//

class Lopt_UnaryOp<string mnemonic, string maths>
    : Lopt_Op<mnemonic, [Pure, SameOperandsAndResultType, Diff]> {
  let summary = "elementwise " # maths;
  let description = [{
    ```mlir
    %y = lopt.}] # mnemonic # [{ %x : tensor<20xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

def Lopt_NegOp : Lopt_UnaryOp<"neg", "negation -x">;
def Lopt_ReluOp : Lopt_UnaryOp<"relu", "max(x, 0)">;
def Lopt_SigmoidOp : Lopt_UnaryOp<"sigmoid", "logistic 1 / (1 + exp(-x))">;
def Lopt_TanhOp : Lopt_UnaryOp<"tanh", "hyperbolic tangent">;
def Lopt_ExpOp : Lopt_UnaryOp<"exp", "exponential">;
def Lopt_LogOp : Lopt_UnaryOp<"log", "natural logarithm">;
def Lopt_AbsOp : Lopt_UnaryOp<"abs", "absolute value">;
def Lopt_SqrtOp : Lopt_UnaryOp<"sqrt", "square root">;
def Lopt_SignOp : Lopt_UnaryOp<"sign", "sign (-1, 0 or 1)">;
def Lopt_SquareOp : Lopt_UnaryOp<"square", "square x * x">;

class Lopt_BinaryOp<string mnemonic, string maths>
    : Lopt_Op<mnemonic, [Pure, Diff]> {
  let summary = "elementwise " # maths # " with scalar broadcast";
  let description = [{
    Operands have equal shapes, or one is a rank-0 tensor broadcast to the
    other's shape.

    ```mlir
    %y = lopt.}] # mnemonic # [{ %a, %b : (tensor<20xf32>, tensor<f32>) -> tensor<20xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$lhs, Lopt_F32Tensor:$rhs);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_AddOp : Lopt_BinaryOp<"add", "a + b">;
def Lopt_SubOp : Lopt_BinaryOp<"sub", "a - b">;
def Lopt_MulOp : Lopt_BinaryOp<"mul", "a * b">;
def Lopt_DivOp : Lopt_BinaryOp<"div", "a / b">;
def Lopt_PowOp : Lopt_BinaryOp<"pow", "a ^ b">;
def Lopt_MinOp : Lopt_BinaryOp<"min", "min(a, b)">;
def Lopt_MaxOp : Lopt_BinaryOp<"max", "max(a, b)">;

def Lopt_ConstantOp : Lopt_Op<"constant", [Pure, ConstantLike,
    AllTypesMatch<["value", "y"]>]> {
  let summary = "a constant f32 tensor";
  let description = [{
    ```mlir
    %c = lopt.constant dense<0.5> : tensor<f32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$value attr-dict";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Autodiff primitives: the ops derivative rules emit. The learner-side ones
// are differentiable again (second order for `meta_gradient full`); the
// *_grad ops of cell ops are not.
//===----------------------------------------------------------------------===//

def Lopt_Conv2DBackwardDataOp : Lopt_Op<"conv2d_backward_data", [Pure, Diff]> {
  let summary = "gradient of conv2d with respect to its input";
  let description = [{
    `dy` [N, O, OH, OW] and `weight` [O, C, KH, KW] give dx [N, C, H, W]
    (the result type fixes H and W), for a conv2d with the same stride and
    padding: dx[n,c,h,v] = sum over o, i, j, ki, kj with i*s+ki-p = h and
    j*s+kj-p = v of dy[n,o,i,j] w[o,c,ki,kj].

    ```mlir
    %dx = lopt.conv2d_backward_data %dy, %w {pad = 1 : i64, stride = 1 : i64}
        : (tensor<5x32x28x28xf32>, tensor<32x1x3x3xf32>) -> tensor<5x1x28x28xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$dy, Lopt_F32Tensor:$weight,
                   I64Attr:$stride, I64Attr:$pad);
  let results = (outs Lopt_F32Tensor:$dx);
  let assemblyFormat = "$dy `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_Conv2DBackwardFilterOp : Lopt_Op<"conv2d_backward_filter", [Pure, Diff]> {
  let summary = "gradient of conv2d with respect to its weight";
  let description = [{
    `x` [N, C, H, W] and `dy` [N, O, OH, OW] give dw [O, C, KH, KW] (the
    result type fixes KH and KW): dw[o,c,ki,kj] = sum over n, i, j of
    dy[n,o,i,j] x[n,c,i*s+ki-p,j*s+kj-p] (zero outside x).

    ```mlir
    %dw = lopt.conv2d_backward_filter %x, %dy {pad = 1 : i64, stride = 1 : i64}
        : (tensor<5x1x28x28xf32>, tensor<5x32x28x28xf32>) -> tensor<32x1x3x3xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$dy,
                   I64Attr:$stride, I64Attr:$pad);
  let results = (outs Lopt_F32Tensor:$dw);
  let assemblyFormat = "$x `,` $dy attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_MaxPoolBackwardOp : Lopt_Op<"maxpool_backward", [Pure, Diff]> {
  let summary = "gradient of maxpool: dy routed to each window's maximum";
  let description = [{
    Adds each element of `dy` [N, C, OH, OW] to the position of its window's
    maximum in `x` [N, C, H, W] (the first maximum on ties, as maxpool picks).

    ```mlir
    %dx = lopt.maxpool_backward %x, %dy {kernel = 2 : i64, stride = 2 : i64}
        : (tensor<5x32x28x28xf32>, tensor<5x32x14x14xf32>) -> tensor<5x32x28x28xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$dy, I64Attr:$kernel,
                   I64Attr:$stride);
  let results = (outs Lopt_F32Tensor:$dx);
  let assemblyFormat = "$x `,` $dy attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_MaxPoolGatherOp : Lopt_Op<"maxpool_gather", [Pure, Diff]> {
  let summary = "the values of g at the positions of x's window maxima";
  let description = [{
    The transpose of maxpool_backward with respect to `dy`; maxpool(x) is
    maxpool_gather(x, x).

    ```mlir
    %y = lopt.maxpool_gather %x, %g {kernel = 2 : i64, stride = 2 : i64}
        : (tensor<5x32x28x28xf32>, tensor<5x32x28x28xf32>) -> tensor<5x32x14x14xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$g, I64Attr:$kernel,
                   I64Attr:$stride);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x `,` $g attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_ReduceSumOp : Lopt_Op<"reduce_sum", [Pure, Diff]> {
  let summary = "sum over the listed dimensions, which are dropped";
  let description = [{
    ```mlir
    %s = lopt.reduce_sum %x {dims = array<i64: 0, 2, 3>}
        : (tensor<5x32x7x7xf32>) -> tensor<32xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, DenseI64ArrayAttr:$dims);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_BroadcastOp : Lopt_Op<"broadcast", [Pure, Diff]> {
  let summary = "repeat a tensor along new dimensions";
  let description = [{
    Operand dimension i becomes result dimension `dims[i]`; the other result
    dimensions repeat it. The transpose of reduce_sum.

    ```mlir
    %b = lopt.broadcast %v {dims = array<i64: 1>}
        : (tensor<32xf32>) -> tensor<5x32x7x7xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, DenseI64ArrayAttr:$dims);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_MatmulOp : Lopt_Op<"matmul", [Pure, Diff]> {
  let summary = "2-D matrix product with optional transposes";
  let description = [{
    op(a) [M, K] times op(b) [K, N], where op transposes when the flag is set.

    ```mlir
    %c = lopt.matmul %g, %x {transpose_a = true, transpose_b = false}
        : (tensor<5x3xf32>, tensor<5x8xf32>) -> tensor<3x8xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$a, Lopt_F32Tensor:$b,
                   BoolAttr:$transpose_a, BoolAttr:$transpose_b);
  let results = (outs Lopt_F32Tensor:$c);
  let assemblyFormat = "$a `,` $b attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_LogSumExpOp : Lopt_Op<"logsumexp", [Pure, Diff]> {
  let summary = "row-wise log-sum-exp of [N, C]";
  let description = [{
    ```mlir
    %l = lopt.logsumexp %x : (tensor<5x5xf32>) -> tensor<5xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_OneHotOp : Lopt_Op<"one_hot", [Pure]> {
  let summary = "labels [N] to one-hot rows [N, C]";
  let description = [{
    ```mlir
    %oh = lopt.one_hot %labels : (tensor<5xi32>) -> tensor<5x5xf32>
    ```
  }];
  let arguments = (ins Lopt_Labels:$labels);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_StepOp : Lopt_Op<"step", [Pure, SameOperandsAndResultType, Diff]> {
  let summary = "Heaviside step: 1 where x > 0, else 0 (relu's derivative)";
  let description = [{
    ```mlir
    %m = lopt.step %x : tensor<5x32xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

def Lopt_ReshapeOp : Lopt_Op<"reshape", [Pure, Diff]> {
  let summary = "same elements in row-major order, another shape";
  let description = [{
    Also reshapes integer labels (to take strided inner batches).

    ```mlir
    %r = lopt.reshape %x : (tensor<5x32xf32>) -> tensor<160xf32>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$x);
  let results = (outs AnyStaticShapeTensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_SliceOp : Lopt_Op<"slice", [Pure, Diff]> {
  let summary = "a static box of a tensor";
  let description = [{
    result[i...] = x[offsets + i...]; the result type gives the sizes. Also
    slices integer labels (the inner batches of the support set).

    ```mlir
    %s = lopt.slice %x {offsets = array<i64: 5, 0>}
        : (tensor<25x8xf32>) -> tensor<5x8xf32>
    ```
  }];
  let arguments = (ins AnyStaticShapeTensor:$x, DenseI64ArrayAttr:$offsets);
  let results = (outs AnyStaticShapeTensor:$y);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_UnsliceOp : Lopt_Op<"unslice", [Pure, Diff]> {
  let summary = "a zero tensor with g placed at offsets (slice's transpose)";
  let description = [{
    ```mlir
    %u = lopt.unslice %g {offsets = array<i64: 5, 0>}
        : (tensor<5x8xf32>) -> tensor<25x8xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$g, DenseI64ArrayAttr:$offsets);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$g attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_StopGradientOp : Lopt_Op<"stop_gradient",
    [Pure, SameOperandsAndResultType, Diff]> {
  let summary = "identity whose derivative is zero";
  let description = [{
    Marks values the meta-gradient treats as constants, e.g. the learner's
    loss and gradient under `meta_gradient first_order`.

    ```mlir
    %c = lopt.stop_gradient %g : tensor<28485xf32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x);
  let results = (outs Lopt_F32Tensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

def Lopt_PreprocessGradOp : Lopt_Op<"preprocess_grad", [Pure]> {
  let summary = "vector-Jacobian product of preprocess";
  let description = [{
    dx = g_log / (p x) where |x| >= exp(-p), else g_sign exp(p); `g` holds
    the interleaved pair adjoints.

    ```mlir
    %dx = lopt.preprocess_grad %x, %g {p = 10.0 : f64}
        : (tensor<f32>, tensor<2xf32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$g, F64Attr:$p);
  let results = (outs Lopt_F32Tensor:$dx);
  let assemblyFormat = "$x `,` $g attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_LSTMGradOp : Lopt_Op<"lstm_grad", [Pure]> {
  let summary = "vector-Jacobian product of lstm";
  let description = [{
    From the lstm operands and the adjoints of (h', c'), the adjoints of x,
    h, c, weight and bias.

    ```mlir
    %dx, %dh, %dc, %dw, %db = lopt.lstm_grad %x, %h, %c, %w, %b, %gh, %gc
        : (tensor<4xf32>, tensor<20xf32>, tensor<20xf32>, tensor<80x24xf32>,
           tensor<80xf32>, tensor<20xf32>, tensor<20xf32>)
        -> (tensor<4xf32>, tensor<20xf32>, tensor<20xf32>, tensor<80x24xf32>,
            tensor<80xf32>)
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$h, Lopt_F32Tensor:$c,
                   Lopt_F32Tensor:$weight, Lopt_F32Tensor:$bias,
                   Lopt_F32Tensor:$dh_next, Lopt_F32Tensor:$dc_next);
  let results = (outs Lopt_F32Tensor:$dx, Lopt_F32Tensor:$dh,
                      Lopt_F32Tensor:$dc, Lopt_F32Tensor:$dweight,
                      Lopt_F32Tensor:$dbias);
  let assemblyFormat = "$x `,` $h `,` $c `,` $weight `,` $bias `,` $dh_next `,` $dc_next attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Lopt_AffineGradOp : Lopt_Op<"affine_grad", [Pure]> {
  let summary = "vector-Jacobian product of affine";
  let description = [{
    dx = weight^T g, dweight = g x^T (outer product), dbias = g.

    ```mlir
    %dx, %dw, %db = lopt.affine_grad %x, %w, %g
        : (tensor<22xf32>, tensor<22xf32>, tensor<f32>)
        -> (tensor<22xf32>, tensor<22xf32>, tensor<f32>)
    ```
  }];
  let arguments = (ins Lopt_F32Tensor:$x, Lopt_F32Tensor:$weight,
                   Lopt_F32Tensor:$g);
  let results = (outs Lopt_F32Tensor:$dx, Lopt_F32Tensor:$dweight,
                      Lopt_F32Tensor:$dbias);
  let assemblyFormat = "$x `,` $weight `,` $g attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Applying a cell to every learner parameter coordinate
//===----------------------------------------------------------------------===//

def Lopt_MapCellOp : Lopt_Op<"map_cell",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "apply a one-coordinate function to every coordinate";
  let description = [{
    Calls `callee` once per coordinate k in [0, coords). An operand marked
    in `mapped` has a leading dimension of size `coords` and the callee gets
    its slice k; other operands (shared meta-weights, the broadcast loss) are
    passed whole. Every result gets a leading `coords` dimension, except a
    result marked in the optional `reduced`, which is summed over the
    coordinates instead (the adjoint of a shared meta-parameter).

    ```mlir
    %p1, %h1 = lopt.map_cell @sgd_cell(%p, %g, %lr)
        {coords = 100 : i64, mapped = array<i1: true, true, false>}
        : (tensor<100xf32>, tensor<100xf32>, tensor<f32>) -> (tensor<100xf32>, tensor<100xf32>)
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee,
                   Variadic<Lopt_F32Tensor>:$inputs, I64Attr:$coords,
                   DenseBoolArrayAttr:$mapped,
                   OptionalAttr<DenseBoolArrayAttr>:$reduced);
  let results = (outs Variadic<Lopt_F32Tensor>:$results);
  let assemblyFormat = "$callee `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Whether result `result` is summed over the coordinates.
    bool isReduced(unsigned result);
  }];
}

//===----------------------------------------------------------------------===//
// The episode
//===----------------------------------------------------------------------===//

def Lopt_EpisodeOp : Lopt_Op<"episode", [Symbol,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a few-shot meta-training episode: learner, cell, task shape";
  let description = [{
    `init` says where the learner's initial parameters theta_0 come from:
    "learned" (a meta-parameter, initialised by the learner's initialisers),
    "fixed" (drawn once from those initialisers, then kept) or "random"
    (drawn afresh every episode).

    Names the learner instances the episode runs (support batches, query batch
    with batch statistics, and, when batch norm evaluates with running
    statistics, the query batch in evaluation mode), the update cell, the
    N-way K-shot task shape, the number of inner steps and how the
    meta-gradient is truncated and applied.

    ```mlir
    lopt.episode @omniglot_5w1s {cell = @omniglot_5w1s.cell,
        support = @omniglot_5w1s.support, query = @omniglot_5w1s.query,
        query_eval = @omniglot_5w1s.query_eval, ways = 5 : i64,
        shots = 1 : i64, queries = 15 : i64, steps = 12 : i64,
        inner_batch = 5 : i64, init = "learned",
        meta_gradient = "first_order", horizon = 0 : i64,
        meta_optimizer = "adam", lr = 1.0e-3 : f64, beta1 = 0.9 : f64,
        beta2 = 0.999 : f64, epsilon = 1.0e-8 : f64, clip_norm = 0.25 : f64,
        bn_eval = "running", grad_batch_divide = false}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
    FlatSymbolRefAttr:$cell, FlatSymbolRefAttr:$support,
    FlatSymbolRefAttr:$query, OptionalAttr<FlatSymbolRefAttr>:$query_eval,
    I64Attr:$ways, I64Attr:$shots, I64Attr:$queries, I64Attr:$steps,
    I64Attr:$inner_batch, StrAttr:$init, StrAttr:$meta_gradient,
    I64Attr:$horizon, StrAttr:$meta_optimizer, F64Attr:$lr, F64Attr:$beta1,
    F64Attr:$beta2, F64Attr:$epsilon, F64Attr:$clip_norm, StrAttr:$bn_eval,
    BoolAttr:$grad_batch_divide);
  let assemblyFormat = "$sym_name attr-dict";
  let hasVerifier = 1;
}

#endif // LOPT_OPS_TD
