// lopt-rematerialize: a batch-normalised activation (and one-operand
// element-wise ops on it) used again after its first use, while the
// batchnorm's input is still used at or after those uses, is recomputed
// from that input right before its first later use; and so is a large,
// cheap convolution's result (at the end of this file).
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

// A cheap convolution (1 input channel x 3 x 3 multiply-adds per element)
// of a function argument, its result used again later: recomputed right
// before that use, above the broadcast made for it, and marked so that CSE
// keeps the copy. (min-conv-bytes lowered from 32 MiB to this test's size.)
// RUN: lopt-opt %s --lopt-rematerialize="min-conv-bytes=1024" --cse | FileCheck %s --check-prefix=CONV
// CONV-LABEL: func.func @conv(
// CONV-SAME: %[[X:[^:]+]]: tensor<2x1x16x16xf32>, %[[W:[^:]+]]: tensor<4x1x3x3xf32>, %[[B:[^:]+]]: tensor<4xf32>, %[[V:[^:]+]]: tensor<4xf32>
// CONV: %[[Y:[^ ]+]] = lopt.conv2d %[[X]], %[[W]], %[[B]] {pad = 1 : i64, stride = 1 : i64} :
// CONV-NEXT: %[[R:[^ ]+]] = lopt.relu %[[Y]]
// CONV-NEXT: %[[S:[^ ]+]] = lopt.reduce_sum %[[R]]
// CONV-NEXT: %[[Y2:[^ ]+]] = lopt.conv2d %[[X]], %[[W]], %[[B]] {lopt.recomputed, pad = 1 : i64, stride = 1 : i64} :
// CONV-NEXT: %[[BV:[^ ]+]] = lopt.broadcast %[[V]]
// CONV-NEXT: lopt.mul %[[Y2]], %[[BV]]
// CONV: return
// The default threshold keeps this 8 KiB result.
// RUN: lopt-opt %s --lopt-rematerialize | FileCheck %s --check-prefix=KEEP
// KEEP-LABEL: func.func @conv(
// KEEP-COUNT-1: lopt.conv2d
// KEEP-NOT: lopt.conv2d
// KEEP-LABEL: func.func @wide(
func.func @conv(%x: tensor<2x1x16x16xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>, %v: tensor<4xf32>)
    -> (tensor<f32>, tensor<2x4x16x16xf32>) {
  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x16x16xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x16x16xf32>
  %r = lopt.relu %y : tensor<2x4x16x16xf32>
  %s = lopt.reduce_sum %r {dims = array<i64: 0, 1, 2, 3>} : (tensor<2x4x16x16xf32>) -> tensor<f32>
  %bv = lopt.broadcast %v {dims = array<i64: 1>} : (tensor<4xf32>) -> tensor<2x4x16x16xf32>
  %m = lopt.mul %y, %bv : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %s, %m : tensor<f32>, tensor<2x4x16x16xf32>
}

// Not recomputed: a convolution of 8 input channels (72 multiply-adds per
// element); one whose input is made in the function and not read after the
// later use (it would stay alive instead of the result).
// CONV-LABEL: func.func @wide(
// CONV-COUNT-1: lopt.conv2d
// CONV-NOT: lopt.conv2d
// CONV-LABEL: func.func @made(
// CONV-COUNT-1: lopt.conv2d
// CONV-NOT: lopt.conv2d
// CONV: return
func.func @wide(%x: tensor<2x8x16x16xf32>, %w: tensor<4x8x3x3xf32>, %b: tensor<4xf32>)
    -> (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) {
  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x8x16x16xf32>, tensor<4x8x3x3xf32>, tensor<4xf32>) -> tensor<2x4x16x16xf32>
  %r = lopt.relu %y : tensor<2x4x16x16xf32>
  %m = lopt.mul %y, %r : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %r, %m : tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>
}

func.func @made(%x0: tensor<2x1x16x16xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>)
    -> (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) {
  %x = lopt.relu %x0 : tensor<2x1x16x16xf32>
  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x16x16xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x16x16xf32>
  %r = lopt.relu %y : tensor<2x4x16x16xf32>
  %m = lopt.mul %y, %r : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %r, %m : tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>
}

// An input made in the function is enough when it is still read where the
// copy goes (the first later use), though not at the last later use: the
// copy is made there, both later uses read it.
// CONV-LABEL: func.func @first(
// CONV: %[[X:[^ ]+]] = lopt.relu
// CONV-NEXT: %[[Y:[^ ]+]] = lopt.conv2d %[[X]]
// CONV-NEXT: lopt.relu %[[Y]]
// CONV-NEXT: %[[Y2:[^ ]+]] = lopt.conv2d %[[X]], {{.*}}lopt.recomputed
// CONV-NEXT: %[[M:[^ ]+]] = lopt.mul %[[Y2]], %[[Y2]]
// CONV-NEXT: lopt.relu %[[X]]
// CONV-NEXT: lopt.add %[[Y2]], %[[M]]
func.func @first(%x0: tensor<2x1x16x16xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>)
    -> (tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>, tensor<2x4x16x16xf32>) {
  %x = lopt.relu %x0 : tensor<2x1x16x16xf32>
  %y = lopt.conv2d %x, %w, %b {pad = 1 : i64, stride = 1 : i64} : (tensor<2x1x16x16xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x16x16xf32>
  %r = lopt.relu %y : tensor<2x4x16x16xf32>
  %m = lopt.mul %y, %y : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  %t = lopt.relu %x : tensor<2x1x16x16xf32>
  %a = lopt.add %y, %m : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %r, %t, %a : tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>, tensor<2x4x16x16xf32>
}

// The update cell's steps: a step whose large results (here at least 64
// bytes: the states %h) are read again by a later map_cell (the next
// step's VJP) is recomputed right before that read when what it reads is
// alive there anyway; the first step is (it reads the arguments), the
// second is not (the first's states die at their first use now), and the
// VJP reads the copy's states and the forward's small results. A state
// read again by something else, and the default 1 MiB, leave them alone.
// RUN: lopt-opt %s --lopt-rematerialize="min-cell-bytes=64" | FileCheck %s --check-prefix=CELL
// RUN: lopt-opt %s --lopt-rematerialize | FileCheck %s --check-prefix=CELL-DEFAULT
// CELL-LABEL: func.func @steps(
// CELL-SAME: %[[P0:[^:]+]]: tensor<8xf32>, %[[H0:[^:]+]]: tensor<8x2xf32>, %[[G:[^:]+]]: tensor<8xf32>, %[[D:[^:]+]]: tensor<8xf32>
// CELL: %[[S1:[^:]+]]:2 = lopt.map_cell @step(%[[P0]], %[[H0]], %[[G]])
// CELL: %[[S2:[^:]+]]:2 = lopt.map_cell @step(%[[S1]]#0, %[[S1]]#1, %[[G]])
// CELL: %[[S3:[^:]+]]:2 = lopt.map_cell @step(%[[S2]]#0, %[[S2]]#1, %[[G]])
// CELL: %[[D2:[^ ]+]] = lopt.map_cell @back(%[[S2]]#0, %[[S2]]#1, %[[G]], %[[D]])
// CELL: %[[AGAIN:[^:]+]]:2 = lopt.map_cell @step(%[[P0]], %[[H0]], %[[G]]) {{{.*}}lopt.recomputed
// CELL: %[[D1:[^ ]+]] = lopt.map_cell @back(%[[S1]]#0, %[[AGAIN]]#1, %[[G]], %[[D2]])
// CELL: lopt.map_cell @back(%[[P0]], %[[H0]], %[[G]], %[[D1]])
// CELL-NOT: lopt.map_cell
// CELL: return %[[S3]]#1
// CELL-LABEL: func.func @read_by_other(
// CELL-COUNT-3: lopt.map_cell
// CELL-NOT: lopt.map_cell
// CELL: return
// CELL-DEFAULT-LABEL: func.func @steps(
// CELL-DEFAULT-COUNT-6: lopt.map_cell
// CELL-DEFAULT-NOT: lopt.map_cell
// CELL-DEFAULT: return
func.func @steps(%p0: tensor<8xf32>, %h0: tensor<8x2xf32>, %g: tensor<8xf32>, %d: tensor<8xf32>)
    -> (tensor<8x2xf32>, tensor<8xf32>) {
  %p1, %h1 = lopt.map_cell @step(%p0, %h0, %g) {coords = 8 : i64, mapped = array<i1: true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x2xf32>)
  %p2, %h2 = lopt.map_cell @step(%p1, %h1, %g) {coords = 8 : i64, mapped = array<i1: true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x2xf32>)
  %p3, %h3 = lopt.map_cell @step(%p2, %h2, %g) {coords = 8 : i64, mapped = array<i1: true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x2xf32>)
  %d2 = lopt.map_cell @back(%p2, %h2, %g, %d) {coords = 8 : i64, mapped = array<i1: true, true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %d1 = lopt.map_cell @back(%p1, %h1, %g, %d2) {coords = 8 : i64, mapped = array<i1: true, true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %d0 = lopt.map_cell @back(%p0, %h0, %g, %d1) {coords = 8 : i64, mapped = array<i1: true, true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %h3, %d0 : tensor<8x2xf32>, tensor<8xf32>
}

func.func @read_by_other(%p0: tensor<8xf32>, %h0: tensor<8x2xf32>, %g: tensor<8xf32>, %d: tensor<8xf32>)
    -> (tensor<8x2xf32>, tensor<8xf32>, tensor<8x2xf32>) {
  %p1, %h1 = lopt.map_cell @step(%p0, %h0, %g) {coords = 8 : i64, mapped = array<i1: true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x2xf32>)
  %p2, %h2 = lopt.map_cell @step(%p1, %h1, %g) {coords = 8 : i64, mapped = array<i1: true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8x2xf32>)
  %d1 = lopt.map_cell @back(%p1, %h1, %g, %d) {coords = 8 : i64, mapped = array<i1: true, true, true, true>} : (tensor<8xf32>, tensor<8x2xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %r = lopt.relu %h1 : tensor<8x2xf32>
  return %h2, %d1, %r : tensor<8x2xf32>, tensor<8xf32>, tensor<8x2xf32>
}

func.func @step(%p: tensor<f32>, %h: tensor<2xf32>, %g: tensor<f32>) -> (tensor<f32>, tensor<2xf32>) {
  %q = lopt.sub %p, %g : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %q, %h : tensor<f32>, tensor<2xf32>
}

func.func @back(%p: tensor<f32>, %h: tensor<2xf32>, %g: tensor<f32>, %d: tensor<f32>) -> tensor<f32> {
  %q = lopt.mul %p, %d : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %q : tensor<f32>
}
