# The mutation check of issue 25: each bug below is planted in a copy of one header (an overlay
# directory searched before include/), the test source that should catch it is compiled against
# the copy, and `mutation.<name>` passes only if that source's tests fail. One compile per
# mutant, so these carry the label `mutation` and stay out of the default suite:
#   cmake --preset default && ctest --preset mutation
# A mutation whose text no longer occurs exactly once in its header (the code moved on) is a
# failing test that says so: update its text, do not delete it.

set(latent_mutant_root ${CMAKE_CURRENT_BINARY_DIR}/mutants)

function(latent_mutant name header test_source before after)
  file(READ ${PROJECT_SOURCE_DIR}/include/latent/${header} text)
  string(FIND "${text}" "${before}" first)
  string(FIND "${text}" "${before}" last REVERSE)
  set(target latent_mutant_${name})
  if(first EQUAL -1 OR NOT first EQUAL last)
    add_test(NAME mutation.${name} COMMAND ${CMAKE_COMMAND}
             "-DSTALE=${name}: its text occurs 0 or several times in include/latent/${header}"
             -P ${CMAKE_CURRENT_SOURCE_DIR}/mutation/kill.cmake)
  else()
    string(REPLACE "${before}" "${after}" mutated "${text}")
    set(overlay ${latent_mutant_root}/${name})
    set(copy ${overlay}/latent/${header})
    set(old "")
    if(EXISTS ${copy})
      file(READ ${copy} old)
    endif()
    if(NOT old STREQUAL mutated)  # rewritten only when it changes, so mutants do not rebuild needlessly
      file(WRITE ${copy} "${mutated}")
    endif()
    add_executable(${target} EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/${test_source}
                   $<TARGET_OBJECTS:latent_catch_main>)
    target_include_directories(${target} BEFORE PRIVATE ${overlay})
    target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${target} PRIVATE Catch2::Catch2)
    latent_target_defaults(${target})
    latent_optional_codecs(${target})
    target_compile_definitions(${target} PRIVATE LATENT_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
    add_test(NAME mutation.${name}
             COMMAND ${CMAKE_COMMAND} -DBUILD=${CMAKE_BINARY_DIR} -DTARGET=${target} -DBINARY=$<TARGET_FILE:${target}>
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/mutation/kill.cmake)
  endif()
  # Mutants build one at a time: two `cmake --build` in one tree would race on shared objects.
  set_tests_properties(mutation.${name} PROPERTIES LABELS mutation RESOURCE_LOCK latent_build_tree)
endfunction()

# --- the checker itself --------------------------------------------------------------------
latent_mutant(grad_check_blind autodiff/grad_check.hpp autodiff/test_grad_check.cpp
  [=[result.max_rel_error = err;]=] [=[result.max_rel_error = 0 * err;]=])

# --- one wrong backward per op family ------------------------------------------------------
latent_mutant(exp_backward_sign autodiff/ops/elementwise.hpp autodiff/test_ops.cpp
  [=[static P derivative(const P&, const P& out, const P&) {
    return out;
  }]=] [=[static P derivative(const P&, const P& out, const P&) {
    return -out;
  }]=])
latent_mutant(leaky_relu_backward_sign autodiff/ops/activation.hpp autodiff/test_ops.cpp
  [=[return select(a > P(0), P(1), slope);]=] [=[return select(a > P(0), P(1), -slope);]=])
latent_mutant(colwise_sum_backward_sign autodiff/ops/reduce.hpp autodiff/test_ops.cpp
  [=[t.accumulate_column_entries(a, [g]<class P>(Index j) { return P(g[j]); });]=]
  [=[t.accumulate_column_entries(a, [g]<class P>(Index j) { return P(-g[j]); });]=])
latent_mutant(slice_rows_backward_sign autodiff/ops/rows.hpp autodiff/test_ops.cpp
  [=[t.adjoint(a).middleRows(start, out.rows()) += t.adjoint_of(out);]=]
  [=[t.adjoint(a).middleRows(start, out.rows()) -= t.adjoint_of(out);]=])
latent_mutant(linear_bias_backward_lost autodiff/ops/linear.hpp autodiff/test_ops.cpp
  [=[t.accumulate_product(x, w.value().transpose(), g);
    t.accumulate_row_sums(b, g);]=] [=[t.accumulate_product(x, w.value().transpose(), g);
    (void)b;]=])
latent_mutant(reparameterize_backward_sign autodiff/ops/fused.hpp autodiff/test_ops.cpp
  [=[return gi * (zi - m) * P(0.5);]=] [=[return gi * (zi - m) * P(-0.5);]=])

# --- forward values grad_check cannot see --------------------------------------------------
latent_mutant(leaky_relu_slope_ignored autodiff/ops/activation.hpp autodiff/test_ops.cpp
  [=[return select(a > P(0), a, slope * a);]=] [=[return select(a > P(0), a, (slope * P(0) + P(0.01)) * a);]=])
latent_mutant(iwae_without_log_k models/vae.hpp models/test_vae_values.cpp
  [=[-S(std::log(double(k))));]=] [=[S(0));]=])
latent_mutant(elbo_recon_over_batch models/vae.hpp models/test_vae_values.cpp
  [=[const Var<S> recon = mean(decoder_.negative_log_likelihood(tape, out, repeat(x, L)));]=]
  [=[const Var<S> recon = scale(sum(decoder_.negative_log_likelihood(tape, out, repeat(x, L))), S(1) / S(x.cols()));]=])
latent_mutant(free_bits_on_total_kl models/vae.hpp models/test_vae_values.cpp
  [=[return sum(shift(relu(shift(kl_dim, S(-lambda))), S(lambda)));]=]
  [=[return shift(relu(shift(sum(kl_dim), S(-lambda))), S(lambda));]=])
latent_mutant(reconstruct_decodes_mean models/vae.hpp models/test_vae_values.cpp
  [=[return decode(mu + ((logvar.array() * S(0.5)).exp() * eps.array()).matrix(), labels);]=]
  [=[return decode(mu + S(0) * eps, labels);]=])
latent_mutant(slerp_and_linear_swapped models/vae.hpp models/test_vae_values.cpp
  [=[if (how == Interpolation::spherical && std::sin(omega) > 1e-6) {]=]
  [=[if (how == Interpolation::linear && std::sin(omega) > 1e-6) {]=])
latent_mutant(active_units_on_std models/vae.hpp models/test_vae_values.cpp
  [=[return Index((variance.array() > S(threshold)).count());]=]
  [=[return Index((variance.array().sqrt() > S(threshold)).count());]=])

# --- data, io ------------------------------------------------------------------------------
latent_mutant(sattolo_shuffle data/shuffle.hpp data/test_shuffle.cpp
  [=[std::swap(order[i - 1], order[rng.below(i)]);]=] [=[std::swap(order[i - 1], order[rng.below(i - 1)]);]=])
latent_mutant(atomic_write_keeps_temp io/atomic_write.hpp io/test_atomic_write.cpp
  [=[    ::unlink(tmp.c_str());]=] [=[    (void)tmp;]=])
# --- safetensors, npy (issue 21) -----------------------------------------------------------
latent_mutant(npy_fortran_order_ignored io/npy.hpp io/test_npy.cpp
  [=[if (!h.fortran_order || h.shape.size() < 2) {]=] [=[if (true) {]=])
latent_mutant(half_exponent_bias_off_by_one io/safetensors.hpp io/test_safetensors.cpp
  [=[v = std::ldexp(float(mantissa | 0x400), exponent - 25);]=] [=[v = std::ldexp(float(mantissa | 0x400), exponent - 24);]=])
latent_mutant(torch_head_rows_swapped io/torch_names.hpp io/test_safetensors.cpp
  [=[{"fc21.weight", "fc22.weight"}]=] [=[{"fc22.weight", "fc21.weight"}]=])
latent_mutant(safetensors_overlap_allowed io/safetensors.hpp io/test_safetensors.cpp
  [=[if (e.begin != covered)]=] [=[if (e.begin > covered)]=])

# --- convolutions and image layers (issue 19) ------------------------------------------------
latent_mutant(col2im_assigns kernels/conv.hpp conv/test_conv.cpp
  [=[for (Index ow = lo; ow < hi; ++ow) row[ow] += line[ow];]=]
  [=[for (Index ow = lo; ow < hi; ++ow) row[ow] = line[ow];]=])
latent_mutant(im2col_ignores_dilation kernels/conv.hpp conv/test_conv.cpp
  [=[for (Index k = 0, c = 0, ki = 0, kj = 0; k < g.taps(); ++k) {
    const Index di = ki * g.dilation - g.padding, dj = kj * g.dilation - g.padding;]=]
  [=[for (Index k = 0, c = 0, ki = 0, kj = 0; k < g.taps(); ++k) {
    const Index di = ki - g.padding, dj = kj - g.padding;]=])
latent_mutant(layer_norm_backward_drops_projection autodiff/ops/norm.hpp conv/test_image_layers.cpp
  [=[(d.array() - mean_d - h.col(j).array() * mean_dh)]=] [=[(d.array() - mean_d - h.col(j).array() * (0 * mean_dh))]=])
