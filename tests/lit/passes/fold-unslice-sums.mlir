// lopt-fold-unslice-sums: a tree of adds over unslices of disjoint ranges
// of a vector is their concatenation, zeros in the gaps.
// RUN: lopt-opt %s --lopt-fold-unslice-sums | FileCheck %s

// The pieces in order of offset, whatever the order of the adds; zeros
// between them and after the last.
// CHECK-LABEL: func.func @gaps(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2xf32>, %[[Y:[^:]+]]: tensor<2xf32>, %[[Z:[^:]+]]: tensor<1xf32>
// CHECK-NEXT: %[[G1:[^ ]+]] = lopt.constant dense<0.000000e+00> : tensor<1xf32>
// CHECK-NEXT: %[[G2:[^ ]+]] = lopt.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK-NEXT: %[[C:[^ ]+]] = lopt.concat %[[X]], %[[Z]], %[[G1]], %[[Y]], %[[G2]] : (tensor<2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<8xf32>
// CHECK-NEXT: return %[[C]]
func.func @gaps(%x: tensor<2xf32>, %y: tensor<2xf32>, %z: tensor<1xf32>) -> tensor<8xf32> {
  %a = lopt.unslice %x {offsets = array<i64: 0>} : (tensor<2xf32>) -> tensor<8xf32>
  %b = lopt.unslice %y {offsets = array<i64: 4>} : (tensor<2xf32>) -> tensor<8xf32>
  %c = lopt.unslice %z {offsets = array<i64: 2>} : (tensor<1xf32>) -> tensor<8xf32>
  %s = lopt.add %b, %a : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %t = lopt.add %c, %s : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %t : tensor<8xf32>
}

// Pieces that cover the vector: no zeros. An unslice read elsewhere too
// stays for that reader.
// CHECK-LABEL: func.func @cover(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2xf32>, %[[Y:[^:]+]]: tensor<1xf32>
// CHECK-NEXT: %[[A:[^ ]+]] = lopt.unslice %[[X]]
// CHECK-NEXT: %[[C:[^ ]+]] = lopt.concat %[[X]], %[[Y]] : (tensor<2xf32>, tensor<1xf32>) -> tensor<3xf32>
// CHECK-NEXT: return %[[C]], %[[A]]
func.func @cover(%x: tensor<2xf32>, %y: tensor<1xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %a = lopt.unslice %x {offsets = array<i64: 0>} : (tensor<2xf32>) -> tensor<3xf32>
  %b = lopt.unslice %y {offsets = array<i64: 2>} : (tensor<1xf32>) -> tensor<3xf32>
  %s = lopt.add %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %s, %a : tensor<3xf32>, tensor<3xf32>
}

// An add that is read outside the tree is a tree of its own: folded, and
// the add that reads it stays.
// CHECK-LABEL: func.func @shared(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2xf32>, %[[Y:[^:]+]]: tensor<2xf32>, %[[V:[^:]+]]: tensor<4xf32>
// CHECK-NEXT: %[[C:[^ ]+]] = lopt.concat %[[X]], %[[Y]]
// CHECK-NEXT: %[[S:[^ ]+]] = lopt.add %[[C]], %[[V]]
// CHECK-NEXT: return %[[C]], %[[S]]
func.func @shared(%x: tensor<2xf32>, %y: tensor<2xf32>, %v: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a = lopt.unslice %x {offsets = array<i64: 0>} : (tensor<2xf32>) -> tensor<4xf32>
  %c = lopt.unslice %y {offsets = array<i64: 2>} : (tensor<2xf32>) -> tensor<4xf32>
  %inner = lopt.add %a, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %outer = lopt.add %inner, %v : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %inner, %outer : tensor<4xf32>, tensor<4xf32>
}

// Left alone: overlapping pieces (their sum adds), a leaf that is not an
// unslice, and unslices into a matrix.
// CHECK-LABEL: func.func @kept(
// CHECK-NOT: lopt.concat
// CHECK: return
func.func @kept(%x: tensor<2xf32>, %y: tensor<2xf32>, %v: tensor<4xf32>, %m: tensor<1x2xf32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>) {
  %a = lopt.unslice %x {offsets = array<i64: 0>} : (tensor<2xf32>) -> tensor<4xf32>
  %b = lopt.unslice %y {offsets = array<i64: 1>} : (tensor<2xf32>) -> tensor<4xf32>
  %overlap = lopt.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %other = lopt.add %a, %v : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %p = lopt.unslice %m {offsets = array<i64: 0, 0>} : (tensor<1x2xf32>) -> tensor<2x2xf32>
  %q = lopt.unslice %m {offsets = array<i64: 1, 0>} : (tensor<1x2xf32>) -> tensor<2x2xf32>
  %mat = lopt.add %p, %q : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  return %overlap, %other, %mat : tensor<4xf32>, tensor<4xf32>, tensor<2x2xf32>
}
