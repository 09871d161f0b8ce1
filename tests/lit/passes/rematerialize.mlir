// lopt-rematerialize: a batch-normalised activation (and one-operand
// element-wise ops on it) used again after its first use, while the
// batchnorm's input is still used at or after those uses, is recomputed
// from that input right before its first later use.
// RUN: lopt-opt %s --lopt-rematerialize | FileCheck %s

// CHECK-LABEL: func.func @block(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x3x4x4xf32>, %[[G:[^:]+]]: tensor<3xf32>, %[[B:[^:]+]]: tensor<3xf32>
// CHECK: %[[Y:[^,]+]], %{{[^,]+}}, %{{[^,]+}}, %[[MEAN:[^,]+]], %[[INV:[^ ]+]] = lopt.batchnorm %[[X]]
// CHECK: %[[R:[^ ]+]] = lopt.relu %[[Y]]
// CHECK: lopt.maxpool %[[R]]
// The recomputation, right before the first later use.
// CHECK: %[[BM:[^ ]+]] = lopt.broadcast %[[MEAN]] {dims = array<i64: 1>}
// CHECK: %[[C:[^ ]+]] = lopt.sub %[[X]], %[[BM]]
// CHECK: %[[BI:[^ ]+]] = lopt.broadcast %[[INV]] {dims = array<i64: 1>}
// CHECK: %[[XH:[^ ]+]] = lopt.mul %[[C]], %[[BI]]
// CHECK: %[[BG:[^ ]+]] = lopt.broadcast %[[G]] {dims = array<i64: 1>}
// CHECK: %[[S:[^ ]+]] = lopt.mul %[[BG]], %[[XH]]
// CHECK: %[[BB:[^ ]+]] = lopt.broadcast %[[B]] {dims = array<i64: 1>}
// CHECK: %[[Y2:[^ ]+]] = lopt.add %[[S]], %[[BB]]
// CHECK: %[[R2:[^ ]+]] = lopt.relu %[[Y2]]
// CHECK: lopt.maxpool_backward %[[R2]],
// CHECK: lopt.step %[[R2]]
// CHECK-NOT: lopt.relu
// CHECK: return
func.func @block(%x: tensor<2x3x4x4xf32>, %gamma: tensor<3xf32>, %beta: tensor<3xf32>,
                 %m0: tensor<3xf32>, %v0: tensor<3xf32>, %g: tensor<2x3x2x2xf32>)
    -> (tensor<2x3x2x2xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) {
  %y, %nm, %nv, %mean, %inv = lopt.batchnorm %x, %gamma, %beta, %m0, %v0 {eps = 1.0e-3 : f64, momentum = 0.1 : f64, mode = "train"} : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
  %r = lopt.relu %y : tensor<2x3x4x4xf32>
  %p = lopt.maxpool %r {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>) -> tensor<2x3x2x2xf32>
  %d = lopt.maxpool_backward %r, %g {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  %s = lopt.step %r : tensor<2x3x4x4xf32>
  %m = lopt.mul %d, %s : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %c = lopt.sub %x, %m : (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  return %p, %m, %c : tensor<2x3x2x2xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
}

// The input is not used after the later use: the activation is kept.
// CHECK-LABEL: func.func @kept(
// CHECK: %[[R:[^ ]+]] = lopt.relu
// CHECK-NEXT: lopt.maxpool %[[R]]
// CHECK-NEXT: lopt.maxpool_backward %[[R]],
// CHECK-NOT: lopt.relu
// CHECK: return
func.func @kept(%x: tensor<2x3x4x4xf32>, %gamma: tensor<3xf32>, %beta: tensor<3xf32>,
                %m0: tensor<3xf32>, %v0: tensor<3xf32>, %g: tensor<2x3x2x2xf32>)
    -> (tensor<2x3x2x2xf32>, tensor<2x3x4x4xf32>) {
  %y, %nm, %nv, %mean, %inv = lopt.batchnorm %x, %gamma, %beta, %m0, %v0 {eps = 1.0e-3 : f64, momentum = 0.1 : f64, mode = "train"} : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
  %r = lopt.relu %y : tensor<2x3x4x4xf32>
  %p = lopt.maxpool %r {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>) -> tensor<2x3x2x2xf32>
  %d = lopt.maxpool_backward %r, %g {kernel = 2 : i64, stride = 2 : i64} : (tensor<2x3x4x4xf32>, tensor<2x3x2x2xf32>) -> tensor<2x3x4x4xf32>
  return %p, %d : tensor<2x3x2x2xf32>, tensor<2x3x4x4xf32>
}

// Used once: nothing to recompute.
// CHECK-LABEL: func.func @once(
// CHECK-COUNT-1: lopt.relu
// CHECK-NOT: lopt.broadcast
// CHECK: return
func.func @once(%x: tensor<2x3xf32>, %gamma: tensor<3xf32>, %beta: tensor<3xf32>,
                %m0: tensor<3xf32>, %v0: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %y, %nm, %nv, %mean, %inv = lopt.batchnorm %x, %gamma, %beta, %m0, %v0 {eps = 1.0e-3 : f64, momentum = 0.1 : f64, mode = "eval"} : (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
  %r = lopt.relu %y : tensor<2x3xf32>
  %c = lopt.sub %x, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r, %c : tensor<2x3xf32>, tensor<2x3xf32>
}
