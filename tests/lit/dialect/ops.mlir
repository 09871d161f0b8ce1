// Every lopt op parses, verifies and prints back to a form that parses again.
// RUN: lopt-opt %s | lopt-opt | FileCheck %s

// CHECK-LABEL: func.func @learner_ops
func.func @learner_ops(%x: tensor<2x1x8x8xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>,
                       %g: tensor<4xf32>, %beta: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>,
                       %lw: tensor<3x16xf32>, %lb: tensor<3xf32>, %labels: tensor<2xi32>)
    -> (tensor<f32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: lopt.conv2d %{{.*}} {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  %0 = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x8x8xf32>
  // CHECK: lopt.batchnorm {{.*}}mode = "train"
  %1, %m1, %v1, %mu7, %inv7 = lopt.batchnorm %0, %g, %beta, %m, %v {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "train"} : (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  // CHECK: lopt.batchnorm {{.*}}mode = "eval"
  %e, %m2, %v2, %mu8, %inv8 = lopt.batchnorm %0, %g, %beta, %m1, %v1 {eps = 1.0e-3 : f64, momentum = 0.9 : f64, mode = "eval"} : (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  // CHECK: lopt.relu %{{.*}} : tensor<2x4x8x8xf32>
  %2 = lopt.relu %1 : tensor<2x4x8x8xf32>
  // CHECK: lopt.maxpool %{{.*}} {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32>
  %3 = lopt.maxpool %2 {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x4x8x8xf32>) -> tensor<2x4x4x4xf32>
  // CHECK: lopt.maxpool %{{.*}} {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x4x4x4xf32>) -> tensor<2x4x2x2xf32>
  %4 = lopt.maxpool %3 {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x4x4x4xf32>) -> tensor<2x4x2x2xf32>
  // CHECK: lopt.flatten %{{.*}} : (tensor<2x4x2x2xf32>) -> tensor<2x16xf32>
  %5 = lopt.flatten %4 : (tensor<2x4x2x2xf32>) -> tensor<2x16xf32>
  // CHECK: lopt.linear %{{.*}} : (tensor<2x16xf32>, tensor<3x16xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %6 = lopt.linear %5, %lw, %lb : (tensor<2x16xf32>, tensor<3x16xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: lopt.cross_entropy %{{.*}} : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  %7 = lopt.cross_entropy %6, %labels : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  return %7, %m2, %v2 : tensor<f32>, tensor<4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @cell_ops
func.func @cell_ops(%g: tensor<f32>, %l: tensor<f32>, %h: tensor<3xf32>, %c: tensor<3xf32>,
                    %w: tensor<12x7xf32>, %b: tensor<12xf32>, %aw: tensor<4xf32>, %ab: tensor<f32>,
                    %vw: tensor<2x4xf32>, %vb: tensor<2xf32>)
    -> (tensor<f32>, tensor<2xf32>) {
  // CHECK: lopt.preprocess %{{.*}} {p = 1.000000e+01 : f64} : (tensor<f32>) -> tensor<2xf32>
  %0 = lopt.preprocess %g {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  %1 = lopt.preprocess %l {p = 10.0 : f64} : (tensor<f32>) -> tensor<2xf32>
  // CHECK: lopt.concat %{{.*}}, %{{.*}} : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  %2 = lopt.concat %0, %1 : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  // CHECK: lopt.lstm {{.*}} -> (tensor<3xf32>, tensor<3xf32>)
  %h1, %c1 = lopt.lstm %2, %h, %c, %w, %b : (tensor<4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<12x7xf32>, tensor<12xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  // CHECK: lopt.affine {{.*}} -> tensor<f32>
  %3 = lopt.affine %2, %aw, %ab : (tensor<4xf32>, tensor<4xf32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.affine {{.*}} -> tensor<2xf32>
  %4 = lopt.affine %2, %vw, %vb : (tensor<4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<2xf32>
  // CHECK: lopt.constant dense<5.000000e-01> : tensor<f32>
  %k = lopt.constant dense<0.5> : tensor<f32>
  // CHECK: lopt.neg
  %5 = lopt.neg %3 : tensor<f32>
  // CHECK: lopt.sigmoid
  %6 = lopt.sigmoid %5 : tensor<f32>
  // CHECK: lopt.tanh
  %7 = lopt.tanh %6 : tensor<f32>
  // CHECK: lopt.exp
  %8 = lopt.exp %7 : tensor<f32>
  // CHECK: lopt.log
  %9 = lopt.log %8 : tensor<f32>
  // CHECK: lopt.abs
  %10 = lopt.abs %9 : tensor<f32>
  // CHECK: lopt.sqrt
  %11 = lopt.sqrt %10 : tensor<f32>
  // CHECK: lopt.sign
  %12 = lopt.sign %11 : tensor<f32>
  // CHECK: lopt.square
  %13 = lopt.square %12 : tensor<f32>
  // CHECK: lopt.relu
  %14 = lopt.relu %13 : tensor<f32>
  // CHECK: lopt.add %{{.*}} : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %15 = lopt.add %14, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.sub
  %16 = lopt.sub %15, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.mul
  %17 = lopt.mul %16, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.div
  %18 = lopt.div %17, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.pow
  %19 = lopt.pow %18, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.min
  %20 = lopt.min %19, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // CHECK: lopt.max
  %21 = lopt.max %20, %k : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // Scalar broadcast against a vector.
  // CHECK: lopt.mul %{{.*}} : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %22 = lopt.mul %4, %21 : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  return %21, %22 : tensor<f32>, tensor<2xf32>
}

// CHECK-LABEL: func.func @learner
// CHECK-SAME: lopt.batch = 2 : i64, lopt.learner = "tiny"
func.func @learner(%x: tensor<2x4xf32> {lopt.role = "input", lopt.name = "x"},
                   %y: tensor<2xi32> {lopt.role = "labels"},
                   %w: tensor<3x4xf32> {lopt.role = "param", lopt.name = "linear_0.weight", lopt.init = {kind = "fan_in_uniform", fan_in = 4 : i64}},
                   %b: tensor<3xf32> {lopt.role = "param", lopt.name = "linear_0.bias", lopt.init = {kind = "zeros"}})
    -> (tensor<f32> {lopt.role = "loss"}, tensor<2x3xf32> {lopt.role = "logits"})
    attributes {lopt.learner = "tiny", lopt.batch = 2 : i64} {
  %0 = lopt.linear %x, %w, %b : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = lopt.cross_entropy %0, %y : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<f32>
  return %1, %0 : tensor<f32>, tensor<2x3xf32>
}

// CHECK-LABEL: func.func @cell
func.func @cell(%p: tensor<f32> {lopt.role = "param", lopt.name = "param"},
                %g: tensor<f32> {lopt.role = "input", lopt.name = "grad"},
                %lr: tensor<f32> {lopt.role = "meta_coord", lopt.name = "lr", lopt.init = {kind = "uniform", low = 0.0 : f64, high = 0.1 : f64}})
    -> (tensor<f32> {lopt.role = "param"}) attributes {lopt.cell = "sgd"} {
  %0 = lopt.mul %lr, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %1 = lopt.sub %p, %0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %1 : tensor<f32>
}

// CHECK: lopt.episode @ep {{{.*}}cell = @cell{{.*}}query = @learner{{.*}}support = @learner{{.*}}ways = 2 : i64}
lopt.episode @ep {cell = @cell, support = @learner, query = @learner, ways = 2 : i64,
    shots = 1 : i64, queries = 1 : i64, steps = 3 : i64, inner_batch = 2 : i64,
    init = "learned", meta_gradient = "horizon", horizon = 2 : i64,
    meta_optimizer = "adam", lr = 1.0e-3 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64,
    epsilon = 1.0e-8 : f64, clip_norm = 0.25 : f64, bn_eval = "batch", grad_batch_divide = false}

// The ops derivative rules emit, and map_cell.
// CHECK-LABEL: func.func @autodiff_ops
func.func @autodiff_ops(%x: tensor<2x1x4x4xf32>, %w: tensor<3x1x3x3xf32>, %dy: tensor<2x3x4x4xf32>,
                        %p: tensor<2x3x2x2xf32>, %m: tensor<2x3xf32>, %n: tensor<4x3xf32>,
                        %l: tensor<2xi32>, %v: tensor<3xf32>, %s: tensor<f32>, %g2: tensor<2xf32>,
                        %h: tensor<2xf32>, %lw: tensor<8x3xf32>, %lb: tensor<8xf32>,
                        %aw: tensor<2xf32>, %flat: tensor<6xf32>) {
  // CHECK: lopt.conv2d_backward_data %{{.*}}, %{{.*}} {pad = 1 : i64, stride = 1 : i64} : (tensor<2x3x4x4xf32>, tensor<3x1x3x3xf32>) -> tensor<2x1x4x4xf32>
  %0 = lopt.conv2d_backward_data %dy, %w {pad = 1 : i64, stride = 1 : i64} : (tensor<2x3x4x4xf32>, tensor<3x1x3x3xf32>) -> tensor<2x1x4x4xf32>
  // CHECK: lopt.conv2d_backward_filter
  %1 = lopt.conv2d_backward_filter %x, %dy {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<3x1x3x3xf32>
  %pool_in = lopt.reshape %dy : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: lopt.maxpool_backward
  %2 = lopt.maxpool_backward %pool_in, %p {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  // CHECK: lopt.maxpool_gather
  %3 = lopt.maxpool_gather %pool_in, %2 {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x2x2xf32>
  // CHECK: lopt.reduce_sum %{{.*}} {dims = array<i64: 0, 2, 3>}
  %4 = lopt.reduce_sum %3 {dims = array<i64: 0, 2, 3>} : (tensor<2x3x2x2xf32>) -> tensor<3xf32>
  // CHECK: lopt.broadcast %{{.*}} {dims = array<i64: 1>}
  %5 = lopt.broadcast %4 {dims = array<i64: 1>} : (tensor<3xf32>) -> tensor<2x3x2x2xf32>
  // CHECK: lopt.matmul %{{.*}} {transpose_a = false, transpose_b = true}
  %6 = lopt.matmul %m, %n {transpose_a = false, transpose_b = true} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  // CHECK: lopt.logsumexp
  %7 = lopt.logsumexp %6 : (tensor<2x4xf32>) -> tensor<2xf32>
  // CHECK: lopt.one_hot
  %8 = lopt.one_hot %l : (tensor<2xi32>) -> tensor<2x4xf32>
  // CHECK: lopt.step
  %9 = lopt.step %8 : tensor<2x4xf32>
  // CHECK: lopt.slice %{{.*}} {offsets = array<i64: 1, 0>}
  %10 = lopt.slice %n {offsets = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<2x3xf32>
  // CHECK: lopt.unslice %{{.*}} {offsets = array<i64: 1, 0>}
  %11 = lopt.unslice %10 {offsets = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<4x3xf32>
  // CHECK: lopt.slice %{{.*}} : (tensor<2xi32>) -> tensor<1xi32>
  %12 = lopt.slice %l {offsets = array<i64: 1>} : (tensor<2xi32>) -> tensor<1xi32>
  // CHECK: lopt.stop_gradient
  %13 = lopt.stop_gradient %v : tensor<3xf32>
  // CHECK: lopt.preprocess_grad
  %14 = lopt.preprocess_grad %s, %g2 {p = 10.0 : f64} : (tensor<f32>, tensor<2xf32>) -> tensor<f32>
  // CHECK: lopt.lstm_grad
  %15:5 = lopt.lstm_grad %s, %h, %h, %lw, %lb, %h, %h : (tensor<f32>, tensor<2xf32>, tensor<2xf32>, tensor<8x3xf32>, tensor<8xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<f32>, tensor<2xf32>, tensor<2xf32>, tensor<8x3xf32>, tensor<8xf32>)
  // CHECK: lopt.affine_grad
  %16:3 = lopt.affine_grad %h, %aw, %s : (tensor<2xf32>, tensor<2xf32>, tensor<f32>) -> (tensor<2xf32>, tensor<2xf32>, tensor<f32>)
  // CHECK: lopt.map_cell @cell5(%{{.*}}) {coords = 6 : i64, mapped = array<i1: true, true, true, false, false>, reduced = array<i1: false, true>}
  %17:2 = lopt.map_cell @cell5(%flat, %flat, %flat, %s, %s) {coords = 6 : i64, mapped = array<i1: true, true, true, false, false>, reduced = array<i1: false, true>} : (tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<f32>, tensor<f32>) -> (tensor<6xf32>, tensor<f32>)
  return
}

func.func @cell5(%a: tensor<f32>, %b: tensor<f32>, %c: tensor<f32>, %d: tensor<f32>, %e: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  return %a, %e : tensor<f32>, tensor<f32>
}
