// lopt-fold-constants: arithmetic on splat constants becomes a constant,
// computed in float.
// RUN: lopt-opt %s --lopt-fold-constants | FileCheck %s

// A loss gradient's 1 / N, then a chain through it and a broadcast.
// CHECK-LABEL: func.func @scale(
// CHECK-SAME: %[[G:[^:]+]]: tensor<2x3xf32>
// CHECK-NEXT: %[[C:[^ ]+]] = lopt.constant dense<4.000000e-02> : tensor<f32>
// CHECK-NEXT: %[[M:[^ ]+]] = lopt.mul %[[G]], %[[C]]
// CHECK-NEXT: %[[B:[^ ]+]] = lopt.constant dense<-1.200000e-01> : tensor<2x3xf32>
// CHECK-NEXT: return %[[M]], %[[B]]
func.func @scale(%g: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %one = lopt.constant dense<1.0> : tensor<f32>
  %n = lopt.constant dense<25.0> : tensor<f32>
  %inv = lopt.div %one, %n : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %m = lopt.mul %g, %inv : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %three = lopt.constant dense<3.0> : tensor<f32>
  %t = lopt.mul %inv, %three : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %neg = lopt.neg %t : tensor<f32>
  %b = lopt.broadcast %neg {dims = array<i64>} : (tensor<f32>) -> tensor<2x3xf32>
  return %m, %b : tensor<2x3xf32>, tensor<2x3xf32>
}

// Left alone: an operand that is not a constant, a constant that is not a
// splat, and functions the pass does not fold (exp: libm and a kernel may
// round its last bit differently).
// CHECK-LABEL: func.func @kept(
// CHECK: lopt.add
// CHECK: lopt.sub
// CHECK: lopt.exp
// CHECK: return
func.func @kept(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>, tensor<f32>) {
  %c = lopt.constant dense<2.0> : tensor<2xf32>
  %a = lopt.add %x, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %v = lopt.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %s = lopt.sub %v, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %one = lopt.constant dense<1.0> : tensor<f32>
  %e = lopt.exp %one : tensor<f32>
  return %a, %s, %e : tensor<2xf32>, tensor<2xf32>, tensor<f32>
}
