// Verifier errors of the lopt dialect on hand-written IR.
// RUN: lopt-opt %s -split-input-file -verify-diagnostics

func.func @conv_channels(%x: tensor<1x2x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{conv2d weight must be [filters, 2, kh, kw], got [4, 3, 3, 3]}}
  %0 = lopt.conv2d %x, %w, %b {pad = 0 : i64, stride = 1 : i64} : (tensor<1x2x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @conv_result(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{result must have shape [1, 4, 6, 6], got [1, 4, 8, 8]}}
  %0 = lopt.conv2d %x, %w, %b {pad = 0 : i64, stride = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// -----

func.func @bn_mode(%x: tensor<2x4xf32>, %s: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{mode must be "train" or "eval", got "test"}}
  %y, %m, %v, %mu5, %inv5 = lopt.batchnorm %x, %s, %s, %s, %s {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "test"} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return %y : tensor<2x4xf32>
}

// -----

func.func @bn_stats(%x: tensor<2x4xf32>, %s: tensor<4xf32>, %t: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{batchnorm scale, shift and statistics must be [4], got [3]}}
  %y, %m, %v, %mu6, %inv6 = lopt.batchnorm %x, %s, %s, %t, %s {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "train"} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return %y : tensor<2x4xf32>
}

// -----

func.func @pool_big(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{maxpool window 3 is larger than the 2x2 input}}
  %0 = lopt.maxpool %x {kernel = 3 : i64, stride = 3 : i64} : (tensor<1x1x2x2xf32>) -> tensor<1x1x1x1xf32>
  return %0 : tensor<1x1x1x1xf32>
}

// -----

func.func @linear_rank(%x: tensor<2x3x4xf32>, %w: tensor<5x12xf32>, %b: tensor<5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{linear expects a [batch, features] input, got [2, 3, 4] (add 'flatten' before it)}}
  %0 = lopt.linear %x, %w, %b : (tensor<2x3x4xf32>, tensor<5x12xf32>, tensor<5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @xent_labels(%l: tensor<2x5xf32>, %y: tensor<3xi32>) -> tensor<f32> {
  // expected-error @+1 {{cross_entropy labels must be [2], got [3]}}
  %0 = lopt.cross_entropy %l, %y : (tensor<2x5xf32>, tensor<3xi32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @lstm_weight(%x: tensor<4xf32>, %h: tensor<3xf32>, %w: tensor<12x4xf32>, %b: tensor<12xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{lstm weight must be [12, 7], got [12, 4]}}
  %h1, %c1 = lopt.lstm %x, %h, %h, %w, %b : (tensor<4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<12x4xf32>, tensor<12xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  return %h1 : tensor<3xf32>
}

// -----

func.func @affine_shapes(%x: tensor<4xf32>, %w: tensor<3xf32>, %b: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{affine over 4 inputs needs weight [out, 4] with bias [out], or weight [4] with a scalar bias; got [3] and []}}
  %0 = lopt.affine %x, %w, %b : (tensor<4xf32>, tensor<3xf32>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @broadcast(%a: tensor<3xf32>, %b: tensor<2xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{elementwise operands must have the same shape or one must be a scalar, got [3] and [2]}}
  %0 = lopt.add %a, %b : (tensor<3xf32>, tensor<2xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @preprocess_p(%g: tensor<f32>) -> tensor<2xf32> {
  // expected-error @+1 {{p must be positive}}
  %0 = lopt.preprocess %g {p = 0.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @dynamic(%a: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{must be statically shaped tensor of 32-bit float values}}
  %0 = lopt.relu %a : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// expected-error @+1 {{argument #0 attribute 'lopt.role' names an unknown role}}
func.func @bad_role(%a: tensor<f32> {lopt.role = "weights"}) {
  return
}

// -----

// expected-error @+1 {{argument #0 attribute 'lopt.init' uniform initialiser needs low <= high}}
func.func @bad_init(%a: tensor<f32> {lopt.role = "meta", lopt.init = {kind = "uniform", low = 1.0 : f64, high = 0.0 : f64}}) {
  return
}

// -----

// expected-error @+1 {{argument #0 of lopt.cell function lacks 'lopt.role'}}
func.func @no_role(%a: tensor<f32>) -> tensor<f32> attributes {lopt.cell = "c"} {
  return %a : tensor<f32>
}

// -----

func.func @cell(%p: tensor<f32> {lopt.role = "param"}) -> tensor<f32> attributes {lopt.cell = "c"} {
  return %p : tensor<f32>
}
// expected-error @+1 {{'not_there' does not name a function}}
lopt.episode @ep {cell = @cell, support = @not_there, query = @cell, ways = 2 : i64,
    shots = 1 : i64, queries = 1 : i64, steps = 3 : i64, inner_batch = 2 : i64,
    init = "learned", meta_gradient = "first_order", horizon = 0 : i64,
    meta_optimizer = "adam", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64,
    epsilon = 1.0e-8 : f64, clip_norm = 0.25 : f64, bn_eval = "batch", grad_batch_divide = false}

// -----

func.func @cell(%p: tensor<f32> {lopt.role = "param"}) -> tensor<f32> attributes {lopt.cell = "c"} {
  return %p : tensor<f32>
}
// expected-error @+1 {{inner_batch 3 must divide the support set size 2}}
lopt.episode @ep {cell = @cell, support = @cell, query = @cell, ways = 2 : i64,
    shots = 1 : i64, queries = 1 : i64, steps = 3 : i64, inner_batch = 3 : i64,
    init = "learned", meta_gradient = "first_order", horizon = 0 : i64,
    meta_optimizer = "adam", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64,
    epsilon = 1.0e-8 : f64, clip_norm = 0.25 : f64, bn_eval = "batch", grad_batch_divide = false}

// -----

func.func @cell(%p: tensor<f32> {lopt.role = "param"}) -> tensor<f32> attributes {lopt.cell = "c"} {
  return %p : tensor<f32>
}
// expected-error @+1 {{'cell' is not tagged 'lopt.learner'}}
lopt.episode @ep {cell = @cell, support = @cell, query = @cell, ways = 2 : i64,
    shots = 1 : i64, queries = 1 : i64, steps = 3 : i64, inner_batch = 2 : i64,
    init = "learned", meta_gradient = "horizon", horizon = 2 : i64,
    meta_optimizer = "adam", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64,
    epsilon = 1.0e-8 : f64, clip_norm = 0.25 : f64, bn_eval = "batch", grad_batch_divide = false}

// -----

func.func @cell(%p: tensor<f32>) -> tensor<f32> {
  return %p : tensor<f32>
}
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 must be 'tensor<f32>'}}
  %0 = lopt.map_cell @cell(%x) {coords = 4 : i64, mapped = array<i1: true>, reduced = array<i1: true>} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @cell(%p: tensor<f32>, %w: tensor<2xf32>) -> tensor<f32> {
  return %p : tensor<f32>
}
func.func @f(%x: tensor<4xf32>, %w: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{operand #1 must be 'tensor<4x2xf32>'}}
  %0 = lopt.map_cell @cell(%x, %w) {coords = 4 : i64, mapped = array<i1: true, true>} : (tensor<4xf32>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @recomputed_not_unit(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'lopt.recomputed' must be a unit attribute}}
  %y = lopt.relu %x {lopt.recomputed = 1 : i64} : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
