#!/usr/bin/env Rscript
# Reference values from R's lme4 (and lmerTest, pbkrtest, glmmTMB, performance) for the
# hierreg-formula tests, turn 3: GLMMs (binomial logit/probit/cloglog, Laplace, AGQ, nAGQ=0,
# Poisson with offset, negative binomial), weighted / offset Gaussian LMMs, and inference
# (Satterthwaite, Kenward-Roger, anova type 1/3, profile and Wald CIs, ICC and Nakagawa R2,
# GLMM likelihood-ratio test and profile CIs).
#
# Usage (from the repository root):
#   Rscript tests/data/r/make_turn3.R [DATA_DIR] [OUT_DIR] [--only=name1,name2]
# DATA_DIR defaults to ../shared/data relative to the repository root, OUT_DIR to
# tests/data/reference/lme4-turn3. One JSON per model; the layout follows
# /work/shared/reference/lme4-turn2 (see tests/data/reference/lme4-turn3/README.md).
#
# Written for R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, pbkrtest 0.5-2, glmmTMB 1.1.5,
# performance 0.10.2 (Debian 12 packages).

suppressPackageStartupMessages({
  library(Matrix)
  library(lme4)
  library(jsonlite)
})

# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
all_args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", grep("^--file=", all_args, value = TRUE))
script_dir <- if (length(file_arg)) dirname(normalizePath(file_arg[1])) else getwd()
repo_root <- normalizePath(file.path(script_dir, "..", "..", ".."))
args <- commandArgs(trailingOnly = TRUE)
only_arg <- sub("^--only=", "", grep("^--only=", args, value = TRUE))
ONLY <- if (length(only_arg)) strsplit(only_arg[1], ",")[[1]] else character(0)
pos <- args[!grepl("^--", args)]
DATA_DIR <- normalizePath(if (length(pos) >= 1) pos[1] else file.path(repo_root, "..", "shared", "data"))
OUT_DIR <- if (length(pos) >= 2) pos[2] else file.path(repo_root, "tests", "data", "reference", "lme4-turn3")
dir.create(OUT_DIR, showWarnings = FALSE, recursive = TRUE)
wanted <- function(name) length(ONLY) == 0 || name %in% ONLY

# ---------------------------------------------------------------------------------------------
# small helpers for JSON
# ---------------------------------------------------------------------------------------------
num <- function(x) {
  if (is.null(x)) return(NULL)
  x <- unname(as.numeric(x))
  x[!is.finite(x)] <- NA
  I(x)
}
sc <- function(x) {
  if (is.null(x) || length(x) == 0) return(NULL)
  x <- unname(x)[[1]]
  if (is.numeric(x) && !is.finite(x)) return(NULL)
  x
}
chr <- function(x) if (is.null(x)) NULL else I(unname(as.character(x)))
mat <- function(m) {
  m <- unname(as.matrix(m))
  storage.mode(m) <- "double"
  m
}
nullable <- function(x) if (is.null(x) || length(x) == 0) NULL else x
write_out <- function(x, name) {
  txt <- toJSON(x, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE)
  path <- file.path(OUT_DIR, paste0(name, ".json"))
  writeLines(txt, path)
  cat(sprintf("wrote %s (%.1f kB)\n", path, file.size(path) / 1024))
}

run_captured <- function(expr) {
  w <- character(0)
  msg <- character(0)
  t0 <- proc.time()[["elapsed"]]
  val <- withCallingHandlers(expr,
    warning = function(c) {
      w <<- c(w, conditionMessage(c))
      invokeRestart("muffleWarning")
    },
    message = function(c) {
      msg <<- c(msg, sub("\n$", "", conditionMessage(c)))
      invokeRestart("muffleMessage")
    }
  )
  list(value = val, warnings = I(w), messages = I(msg), seconds = round(proc.time()[["elapsed"]] - t0, 3))
}
try_captured <- function(expr) {
  r <- tryCatch(run_captured(expr), error = function(e) list(error = conditionMessage(e)))
  r
}

# ---------------------------------------------------------------------------------------------
# data: factors with sorted levels (numeric order for integer-like labels, C-locale otherwise)
# ---------------------------------------------------------------------------------------------
FACTORS <- list(
  cbpp = c("herd", "period"),
  grouseticks = c("INDEX", "BROOD", "YEAR", "LOCATION"),
  sleepstudy = "Subject",
  sleep_weights = "Subject",
  Penicillin = c("plate", "sample"),
  Pastes = c("batch", "cask", "sample"),
  cake = c("replicate", "recipe", "temperature"),
  bern_slope = "g",
  poisson_offset = "g"
)
LME4_NAME <- c(cbpp = "cbpp", grouseticks = "grouseticks", sleepstudy = "sleepstudy",
               Penicillin = "Penicillin", Pastes = "Pastes", cake = "cake")

sha256 <- function(path) {
  out <- tryCatch(system2("sha256sum", shQuote(path), stdout = TRUE), error = function(e) NA)
  sub(" .*$", "", out[1])
}

load_data <- function(name) {
  fac <- FACTORS[[name]]
  path <- file.path(DATA_DIR, paste0(name, ".csv"))
  cc <- setNames(rep("character", length(fac)), fac)
  d <- read.csv(path, colClasses = cc, stringsAsFactors = FALSE)
  for (v in fac) {
    x <- d[[v]]
    u <- unique(x)
    lev <- if (all(grepl("^-?[0-9]+$", u))) u[order(as.numeric(u))] else sort(u, method = "radix")
    d[[v]] <- factor(x, levels = lev)
  }
  # compare with lme4's own copy where there is one (values and labels, not level order)
  same <- NULL
  if (name %in% names(LME4_NAME)) {
    ref <- get(LME4_NAME[[name]], envir = asNamespace("lme4"))
    same <- all(vapply(names(ref), function(v) {
      if (!v %in% names(d)) return(TRUE)
      a <- ref[[v]]
      b <- d[[v]]
      if (is.factor(a) || is.factor(b)) all(as.character(a) == as.character(b))
      else isTRUE(all.equal(as.numeric(a), as.numeric(b), tolerance = 0))
    }, logical(1)))
  }
  attr(d, "info") <- list(
    name = name, csv = paste0("shared/data/", name, ".csv"), nrow = nrow(d), ncol = ncol(d),
    factors = chr(fac), sha256 = sha256(path), equals_lme4_object = same
  )
  d
}

# ---------------------------------------------------------------------------------------------
# controls
# ---------------------------------------------------------------------------------------------
OPT_TIGHT <- list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 0, ftol_rel = 0, maxeval = 1e6)
TOL_PWRSS <- 1e-14
lmer_tight <- function() lmerControl(optimizer = "nloptwrap", optCtrl = OPT_TIGHT,
                                     check.conv.singular = "ignore")
glmer_tight <- function(tolPwrss = TOL_PWRSS) {
  glmerControl(optimizer = "nloptwrap", optCtrl = OPT_TIGHT, tolPwrss = tolPwrss,
               check.conv.singular = "ignore")
}
glmer_bobyqa_tight <- function(tolPwrss = TOL_PWRSS) {
  glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e6),
               tolPwrss = tolPwrss, check.conv.singular = "ignore")
}
VALUES_FROM_LMM <- paste(
  "top-level values are the tight refit: optimizer nloptwrap (NLopt BOBYQA) with xtol_abs=1e-12,",
  "ftol_abs=1e-14, xtol_rel=ftol_rel=0, maxeval=1e6; check.conv.singular='ignore'.",
  "lme4 default (default_fit): nloptwrap with xtol_abs=ftol_abs=1e-8."
)
VALUES_FROM_GLMM <- paste(
  "top-level values are the tight refit: optimizer nloptwrap (NLopt BOBYQA) for both glmer stages",
  "with xtol_abs=1e-12, ftol_abs=1e-14, xtol_rel=ftol_rel=0, maxeval=1e6; tolPwrss=%g (PIRLS);",
  "check.conv.singular='ignore'. lme4 default (default_fit): bobyqa then Nelder_Mead, tolPwrss=1e-7."
)

# fit in a private environment so that update(m, devFunOnly = TRUE), profile() and
# anova() can re-evaluate the call (the formula's environment holds `data` and `control`)
fit_model <- function(fitter, formula, data, args = list(), control = NULL) {
  env <- new.env(parent = globalenv())
  env$data <- data
  env$control <- control
  f <- as.formula(formula, env = env)
  head <- if (is.character(fitter)) str2lang(fitter) else fitter
  cl <- as.call(c(list(head, formula = f, data = quote(data)), args,
                  if (!is.null(control)) list(control = quote(control))))
  r <- run_captured(eval(cl, env))
  r$env <- env
  r
}

# ---------------------------------------------------------------------------------------------
# extraction of one fit in the turn-2 layout
# ---------------------------------------------------------------------------------------------
VCOV_NOTE <- paste(
  "GLMM: vcov(m) with lme4's default use.hessian = TRUE, i.e. the beta block of 2 * solve(H),",
  "H = finite-difference Hessian of the deviance in (theta, beta) taken at the end of the fit",
  "(optinfo$derivs); this includes the theta-beta coupling and carries finite-difference noise.",
  "matrix_no_hessian is vcov(m, use.hessian = FALSE): (RX' RX)^-1 from the PIRLS factorisation",
  "at the optimum (beta treated as if theta were known). nAGQ = 0 fits have no Hessian, so both",
  "are the (RX' RX)^-1 version there."
)
THETA_NOTE <- paste(
  "lme4 relative covariance factor: per random-effects term, column-major lower triangle of the",
  "Cholesky factor of Sigma_term / sigma^2 (GLMM: of Sigma_term, sigma = 1)"
)

family_key <- function(m) {
  fam <- family(m)$family
  if (grepl("^Negative Binomial", fam)) "negative_binomial" else fam
}
is_glmm <- function(m) isGLMM(m)

varcorr_list <- function(m) {
  vc <- VarCorr(m)
  out <- lapply(names(vc), function(nm) {
    S <- vc[[nm]]
    list(vc_name = nm, group = sub("\\.[0-9]+$", "", nm), terms = chr(colnames(S)),
         variance = num(diag(S)), sd = num(attr(S, "stddev")), covariance = mat(S),
         correlation = mat(attr(S, "correlation")))
  })
  if (!is_glmm(m)) {
    out[[length(out) + 1]] <- list(vc_name = "Residual", group = "Residual", terms = I(character(0)),
                                   variance = num(sigma(m)^2), sd = num(sigma(m)))
  }
  out
}
varcorr_df <- function(m) {
  df <- as.data.frame(VarCorr(m))
  lapply(seq_len(nrow(df)), function(i) {
    list(grp = df$grp[i], var1 = if (is.na(df$var1[i])) NULL else df$var1[i],
         var2 = if (is.na(df$var2[i])) NULL else df$var2[i], vcov = df$vcov[i], sdcor = df$sdcor[i])
  })
}

ranef_list <- function(m) {
  re <- ranef(m, condVar = TRUE)
  out <- list()
  for (g in names(re)) {
    r <- re[[g]]
    pv <- attr(r, "postVar")
    k <- ncol(r)
    mode <- setNames(lapply(seq_len(k), function(j) num(r[[j]])), colnames(r))
    csd <- setNames(lapply(seq_len(k), function(j) num(sqrt(pv[j, j, ]))), colnames(r))
    item <- list(group = g, levels = chr(rownames(r)), columns = chr(colnames(r)), mode = mode,
                 cond_sd = csd)
    if (k > 1) item$cond_cov <- lapply(seq_len(dim(pv)[3]), function(i) mat(pv[, , i]))
    out[[g]] <- item
  }
  out
}

optimizer_info <- function(m) {
  oi <- m@optinfo
  list(name = oi$optimizer, feval = sc(oi$feval), conv_opt = sc(oi$conv$opt),
       conv_lme4_messages = nullable(chr(oi$conv$lme4$messages)),
       message = sc(oi$message), optimizer_warnings = nullable(chr(unlist(oi$warnings))))
}

# saturated log-likelihood: lme4's nAGQ > 1 deviance is the sum of deviance residuals
# (= -2 logLik + 2 logLik_saturated) plus the quadrature terms, so it omits this constant
saturated_minus2loglik <- function(m) {
  fam <- family(m)
  y <- m@resp$y
  wt <- m@resp$weights
  fam$aic(y, m@resp$n, y, wt, 0)  # family aic = -2 * sum(log f(y | mu)) incl. constants, at mu = y
}

new_predictions <- function(m, newdata, glmm) {
  if (is.null(newdata)) return(NULL)
  nd_json <- lapply(seq_len(nrow(newdata)), function(i) {
    row <- newdata[i, , drop = FALSE]
    lapply(row, function(v) if (is.factor(v)) as.character(v) else unname(v))
  })
  note <- paste(
    "predict(m, newdata, allow.new.levels = TRUE): unseen levels get random effect 0;",
    "population = predict(m, newdata, re.form = NA); offsets in the formula are included"
  )
  if (glmm) {
    list(newdata = nd_json, note = note,
         link = num(predict(m, newdata, type = "link", allow.new.levels = TRUE)),
         response = num(predict(m, newdata, type = "response", allow.new.levels = TRUE)),
         population_link = num(predict(m, newdata, type = "link", re.form = NA)),
         population_response = num(predict(m, newdata, type = "response", re.form = NA)))
  } else {
    list(newdata = nd_json, note = note,
         prediction = num(predict(m, newdata, allow.new.levels = TRUE)),
         population = num(predict(m, newdata, re.form = NA)))
  }
}

fitted_first <- function(m, n = 20) {
  i <- seq_len(min(n, nobs(m)))
  glmm <- is_glmm(m)
  out <- list(row = I(i), fitted = num(fitted(m)[i]),
              linear_predictor = num(predict(m, type = "link")[i]))
  if (!glmm) out$residual <- num(residuals(m, type = "response")[i])
  out$residual_response <- num(residuals(m, type = "response")[i])
  out$residual_pearson <- num(residuals(m, type = "pearson")[i])
  out$residual_deviance <- num(residuals(m, type = "deviance")[i])
  out$residual_working <- num(residuals(m, type = "working")[i])
  w <- weights(m)
  if (any(w != 1)) out$prior_weights <- num(w[i])
  off <- getME(m, "offset")
  if (any(off != 0)) out$offset <- num(off[i])
  out$note <- paste(
    "fitted = response scale (mean); linear_predictor = predict(m, type = 'link'), link scale incl.",
    "any offset; both include conditional modes; residual_* = residuals(m, type = ...):",
    "response = y - fitted, pearson = lme4's wtres (sqrt(prior weight) * (y - mu) / sqrt(V(mu));",
    "not divided by sigma for LMMs), deviance = sign(y - mu) * sqrt(unit deviance * prior weight),",
    "working = (y - mu) / mu.eta(eta). For binomial fits y is the proportion incidence / size."
  )
  out
}

criteria_block <- function(m, glmm) {
  ll <- logLik(m)
  cmp <- m@devcomp$cmp
  cmp_list <- lapply(as.list(cmp), function(v) if (is.na(v)) NULL else unname(v))
  if (glmm) {
    nagq <- m@devcomp$dims[["nAGQ"]]
    note <- paste(
      "Laplace approximation of -2 log-likelihood incl. the full log density constants",
      "(binomial log-choose, Poisson log y!, NB lgamma terms) (= devcomp 'dev'); deviance(glmer)",
      "is the sum of squared deviance residuals and is stored separately (deviance_lme4)"
    )
    if (nagq > 1) {
      note <- paste(
        "lme4's AGQ deviance (devcomp 'dev', what glmer minimises at nAGQ > 1). It is NOT on the",
        "scale of the Laplace objective: lme4 builds it from deviance residuals, so it equals",
        "-2 log-likelihood + 2 * saturated log-likelihood, i.e. it omits the constant",
        "saturated_minus2loglik. objective_full_constants = objective + saturated_minus2loglik is",
        "the AGQ approximation of -2 log-likelihood (checked against a direct numerical integral in",
        "extras.exact_integral_check). logLik / AIC / BIC are lme4's, on lme4's AGQ scale."
      )
    }
    if (nagq == 0) {
      note <- paste(
        "nAGQ = 0: lme4 minimises over theta only; beta is estimated jointly with u in PIRLS",
        "(penalized least squares), so beta is not the Laplace maximum-likelihood beta.",
        "objective = devcomp 'dev' = the Laplace -2 log-likelihood at that (theta, beta)",
        "incl. the full constants"
      )
    }
    out <- list(
      logLik = sc(ll), logLik_df = attr(ll, "df"), REMLcrit = NULL, deviance = NULL,
      deviance_ML_at_REML_estimates = NULL, deviance_lme4 = sc(deviance(m)),
      minus2logLik = -2 * sc(ll), glmm_deviance_residual_sum = sum(residuals(m, type = "deviance")^2),
      objective = sc(cmp[["dev"]]), objective_note = note, AIC = AIC(m), BIC = BIC(m),
      devcomp_cmp = cmp_list
    )
    if (nagq > 1) {
      c0 <- saturated_minus2loglik(m)
      out$saturated_minus2loglik <- c0
      out$objective_full_constants <- sc(cmp[["dev"]]) + c0
      out$logLik_full_constants <- sc(ll) - c0 / 2
      out$AIC_full_constants <- AIC(m) + c0
      out$BIC_full_constants <- BIC(m) + c0
    }
  } else {
    reml <- isREML(m)
    out <- list(
      logLik = sc(ll), logLik_df = attr(ll, "df"),
      REMLcrit = if (reml) REMLcrit(m) else NULL,
      deviance = if (!reml) deviance(m) else NULL,
      deviance_ML_at_REML_estimates = if (reml) deviance(m, REML = FALSE) else NULL,
      deviance_lme4 = if (!reml) deviance(m) else NULL,
      minus2logLik = -2 * sc(ll), glmm_deviance_residual_sum = NULL,
      objective = if (reml) REMLcrit(m) else deviance(m),
      objective_note = if (reml) {
        "REML criterion = REMLcrit(m) = -2 * REML log-likelihood, minimised over theta"
      } else {
        "ML deviance = -2 * log-likelihood, minimised over theta"
      },
      AIC = AIC(m), BIC = BIC(m), devcomp_cmp = cmp_list
    )
  }
  out
}

objective_of <- function(m) {
  if (is_glmm(m)) unname(m@devcomp$cmp[["dev"]]) else if (isREML(m)) REMLcrit(m) else deviance(m)
}
nb_theta_of <- function(m) if (family_key(m) == "negative_binomial") getME(m, "glmer.nb.theta") else NULL

extract_fit <- function(fr, spec) {
  m <- fr$value
  glmm <- is_glmm(m)
  fe <- fixef(m)
  V <- vcov(m)
  se <- sqrt(diag(as.matrix(V)))
  fixef_block <- list(names = chr(names(fe)), estimate = num(fe), std_error = num(se))
  if (glmm) {
    z <- fe / se
    fixef_block$z_value <- num(z)
    fixef_block$p_value_wald_z <- num(2 * pnorm(-abs(z)))
    Vn <- suppressWarnings(vcov(m, use.hessian = FALSE))
    vc_block <- list(names = chr(names(fe)), matrix = mat(V), note = VCOV_NOTE,
                     matrix_no_hessian = mat(Vn), std_error_no_hessian = num(sqrt(diag(as.matrix(Vn)))),
                     hessian_available = !is.null(m@optinfo$derivs$Hessian))
  } else {
    fixef_block$t_value <- num(fe / se)
    vc_block <- list(names = chr(names(fe)), matrix = mat(V))
  }
  ctr <- attr(getME(m, "X"), "contrasts")
  th <- getME(m, "theta")
  lower <- getME(m, "lower")
  lower[!is.finite(lower)] <- NA
  nagq <- if (glmm) m@devcomp$dims[["nAGQ"]] else NULL
  method <- if (!glmm) {
    if (isREML(m)) "REML" else "ML"
  } else if (nagq == 1) {
    "Laplace (nAGQ=1)"
  } else if (nagq == 0) {
    "nAGQ=0 (PIRLS estimates beta jointly with u; theta optimised on the Laplace criterion)"
  } else {
    sprintf("adaptive Gauss-Hermite quadrature (nAGQ=%d)", nagq)
  }
  list(
    formula = spec$formula,
    call = paste(deparse(getCall(m), width.cutoff = 500L), collapse = " "),
    fitter = spec$fitter,
    REML = if (glmm) FALSE else isREML(m),
    family = family_key(m), family_R = family(m)$family, link = family(m)$link,
    method = method, nAGQ = nagq,
    weights = spec$weights, offset = spec$offset,
    nobs = nobs(m), ngrps = as.list(ngrps(m)),
    fixef = fixef_block, vcov_fixef = vc_block,
    contrasts = if (is.null(ctr)) NULL else lapply(ctr, function(x) if (is.character(x)) x else "matrix"),
    theta = list(names = chr(names(th)), values = num(th), lower = num(lower), note = THETA_NOTE),
    sigma = sigma(m), nb_theta = nb_theta_of(m),
    varcorr = varcorr_list(m), varcorr_df = varcorr_df(m),
    criteria = criteria_block(m, glmm),
    is_singular = isSingular(m),
    optimizer = optimizer_info(m),
    fit_warnings = fr$warnings, fit_messages = fr$messages,
    ranef = ranef_list(m),
    fitted_first20 = fitted_first(m),
    predict_new_levels = new_predictions(m, spec$newdata, glmm)
  )
}

default_summary <- function(fd, ft) {
  md <- fd$value
  mt <- ft$value
  oi <- optimizer_info(md)
  oi$optimizer_warnings <- NULL
  nbd <- nb_theta_of(md)
  nbt <- nb_theta_of(mt)
  list(
    note = "lme4 default controls; only a summary, the full extraction at top level is the tight refit",
    call = paste(deparse(getCall(md), width.cutoff = 500L), collapse = " "),
    objective = objective_of(md), logLik = sc(logLik(md)),
    theta = num(getME(md, "theta")), beta = num(fixef(md)),
    std_error = num(sqrt(diag(as.matrix(vcov(md))))),
    sigma = sigma(md), nb_theta = nbd, is_singular = isSingular(md),
    optimizer = oi, fit_warnings = fd$warnings, fit_messages = fd$messages, seconds = fd$seconds,
    default_minus_tight = list(
      theta = num(getME(md, "theta") - getME(mt, "theta")), beta = num(fixef(md) - fixef(mt)),
      sigma = sigma(md) - sigma(mt), nb_theta = if (is.null(nbd)) NULL else nbd - nbt,
      objective = objective_of(md) - objective_of(mt)
    )
  )
}

# ---------------------------------------------------------------------------------------------
# checks and cross-checks
# ---------------------------------------------------------------------------------------------
devfun_of <- function(m, control = NULL) {
  if (is.null(control)) update(m, devFunOnly = TRUE) else update(m, devFunOnly = TRUE, control = control)
}
opt_pars <- function(m) {
  if (is_glmm(m) && m@devcomp$dims[["nAGQ"]] > 0) c(getME(m, "theta"), fixef(m)) else getME(m, "theta")
}

gradient_check <- function(m) {
  r <- tryCatch({
    f <- devfun_of(m)
    p <- opt_pars(m)
    g <- numDeriv::grad(f, p)
    lower <- c(getME(m, "lower"), rep(-Inf, length(p) - length(getME(m, "theta"))))
    list(parameters = if (length(p) > length(getME(m, "theta"))) "c(theta, beta)" else "theta",
         at = num(p), gradient = num(g), on_lower_bound = I(p == lower), f = f(p),
         note = paste("numDeriv::grad (Richardson) of update(m, devFunOnly=TRUE); a component can be",
                      "non-zero when its parameter sits on the lower bound 0"))
  }, error = function(e) list(error = conditionMessage(e)))
  r
}

hessian_check <- function(m) {
  if (!is_glmm(m) || m@devcomp$dims[["nAGQ"]] == 0) return(NULL)
  tryCatch({
    f <- devfun_of(m)
    p <- opt_pars(m)
    H <- numDeriv::hessian(f, p)
    k <- length(getME(m, "theta"))
    Hi <- solve(H)
    V <- 2 * Hi[-seq_len(k), -seq_len(k), drop = FALSE]
    Hl <- m@optinfo$derivs$Hessian
    list(
      parameters = "c(theta, beta)", hessian = mat(H),
      vcov_fixef = mat(V), std_error = num(sqrt(diag(V))),
      lme4_std_error_minus_this = num(sqrt(diag(as.matrix(vcov(m)))) - sqrt(diag(V))),
      lme4_hessian_minus_this = if (is.null(Hl)) NULL else mat(Hl - H),
      note = paste(
        "numDeriv::hessian (Richardson extrapolation, default settings) of the deviance function",
        "update(m, devFunOnly = TRUE) in (theta, beta) at the tight optimum; vcov_fixef = beta block",
        "of 2 * solve(H). This is what lme4's default vcov() estimates with its own cruder finite",
        "differences (optinfo$derivs$Hessian); compare a Hessian-based SE with this block"
      )
    )
  }, error = function(e) list(error = conditionMessage(e)))
}

# log f(y | mu) per observation with all constants (dnbinom for the negative binomial, which
# is numerically safer than MASS's aic() for a large NB theta)
log_density <- function(fam, y, n, mu, wt) {
  if (fam$family == "binomial") {
    m <- if (any(n > 1)) n else wt
    return(ifelse(m > 0, wt / m, 0) * dbinom(round(m * y), round(m), mu, log = TRUE))
  }
  if (fam$family == "poisson") return(wt * dpois(y, mu, log = TRUE))
  if (grepl("^Negative Binomial", fam$family)) {
    th <- get(".Theta", envir = environment(fam$aic))
    return(wt * dnbinom(y, size = th, mu = mu, log = TRUE))
  }
  -fam$aic(y, n, mu, wt, 0) / 2 / length(y)  # fallback: spread the total evenly
}

# hand-computed Laplace objective at lme4's (theta, beta) and conditional modes u, with the
# expected (IRLS / Fisher) weights W = w mu.eta^2 / V(mu) [what lme4 uses] and with observed
# weights W = -d score / d eta [a true Laplace approximation, what glmmTMB/TMB uses]
laplace_parts <- function(m) {
  fam <- family(m)
  u <- getME(m, "u")
  Lam <- getME(m, "Lambda")
  Z <- getME(m, "Z")
  X <- getME(m, "X")
  eta <- as.vector(X %*% fixef(m) + Z %*% (Lam %*% u)) + getME(m, "offset")
  y <- m@resp$y
  wt <- m@resp$weights
  mu <- fam$linkinv(eta)
  base <- -2 * sum(log_density(fam, y, m@resp$n, mu, wt))
  score <- function(e) {
    mm <- fam$linkinv(e)
    wt * (y - mm) * fam$mu.eta(e) / fam$variance(mm)
  }
  h <- 1e-3
  d1 <- (score(eta + h) - score(eta - h)) / (2 * h)
  d2 <- (score(eta + h / 2) - score(eta - h / 2)) / h
  w_obs <- -(4 * d2 - d1) / 3
  w_exp <- wt * fam$mu.eta(eta)^2 / fam$variance(mu)
  ZL <- Z %*% Lam
  q <- ncol(ZL)
  ld <- function(w) {
    M <- as.matrix(crossprod(ZL * sqrt(w))) + diag(q)
    as.numeric(determinant(M, logarithm = TRUE)$modulus)
  }
  list(base = base, ussq = sum(u^2), ld_exp = ld(w_exp), ld_obs = ld(w_obs),
       expected = base + sum(u^2) + ld(w_exp), observed = base + sum(u^2) + ld(w_obs))
}

# Independent evaluation of lme4's Laplace criterion (expected-information log-determinant, as
# lme4 defines it) with the conditional modes solved to convergence at every call, so the
# function is smooth to ~1e-12 and can be optimised / differentiated tightly. Used to show how
# far lme4's own optimum (whose PIRLS result carries a small path-dependent error) can be trusted.
smooth_laplace_fun <- function(m) {
  fam <- family(m)
  X <- getME(m, "X")
  Zt <- getME(m, "Zt")
  Lt <- getME(m, "Lambdat")
  Lind <- getME(m, "Lind")
  off <- getME(m, "offset")
  y <- m@resp$y
  wt <- m@resp$weights
  n <- m@resp$n
  k <- length(getME(m, "theta"))
  q <- nrow(Zt)
  u_last <- getME(m, "u")
  function(par, return_parts = FALSE) {
    theta <- par[seq_len(k)]
    beta <- par[-seq_len(k)]
    Lt@x <- theta[Lind]
    ZL <- t(Lt %*% Zt)
    eta_f <- as.vector(X %*% beta) + off
    pdev <- function(u) {
      eta <- eta_f + as.vector(ZL %*% u)
      -2 * sum(log_density(fam, y, n, fam$linkinv(eta), wt)) + sum(u^2)
    }
    u <- u_last
    cur <- pdev(u)
    for (it in seq_len(200)) {
      eta <- eta_f + as.vector(ZL %*% u)
      mu <- fam$linkinv(eta)
      me <- fam$mu.eta(eta)
      w <- wt * me^2 / fam$variance(mu)
      M <- as.matrix(crossprod(ZL * sqrt(w))) + diag(q)
      rhs <- as.vector(crossprod(ZL, wt * (y - mu) * me / fam$variance(mu))) - u
      du <- as.vector(solve(M, rhs))
      step <- 1
      repeat {
        new <- pdev(u + step * du)
        if (is.finite(new) && new <= cur + 1e-12 * abs(cur)) break
        step <- step / 2
        if (step < 1e-10) break
      }
      u <- u + step * du
      done <- max(abs(step * du)) < 1e-13 || step < 1e-10
      cur <- new
      if (done) break
    }
    u_last <<- u
    eta <- eta_f + as.vector(ZL %*% u)
    mu <- fam$linkinv(eta)
    w <- wt * fam$mu.eta(eta)^2 / fam$variance(mu)
    M <- as.matrix(crossprod(ZL * sqrt(w))) + diag(q)
    ld <- as.numeric(determinant(M, logarithm = TRUE)$modulus)
    val <- cur + ld
    if (return_parts) return(list(value = val, u = u, iterations = it))
    val
  }
}

smooth_laplace_refit <- function(m) {
  if (!is_glmm(m) || m@devcomp$dims[["nAGQ"]] != 1) return(NULL)
  tryCatch({
    t0 <- proc.time()[["elapsed"]]
    f <- smooth_laplace_fun(m)
    k <- length(getME(m, "theta"))
    p0 <- c(getME(m, "theta"), fixef(m))
    f_at_lme4 <- f(p0)
    g_at_lme4 <- numDeriv::grad(f, p0)
    lower <- c(getME(m, "lower"), rep(-Inf, length(p0) - k))
    opt <- minqa::bobyqa(p0, f, lower = lower, control = list(rhobeg = 2e-3, rhoend = 1e-11, maxfun = 1e5))
    p1 <- opt$par
    H <- numDeriv::hessian(f, p1)
    V <- 2 * solve(H)[-seq_len(k), -seq_len(k), drop = FALSE]
    list(
      objective_at_lme4_params = f_at_lme4,
      lme4_minus_this_at_lme4_params = objective_of(m) - f_at_lme4,
      gradient_at_lme4_params = num(g_at_lme4),
      objective = opt$fval, lme4_minus_this_objective = objective_of(m) - opt$fval,
      theta = num(p1[seq_len(k)]), beta = num(p1[-seq_len(k)]),
      lme4_minus_this_theta = num(p0[seq_len(k)] - p1[seq_len(k)]),
      lme4_minus_this_beta = num(p0[-seq_len(k)] - p1[-seq_len(k)]),
      gradient_at_optimum = num(numDeriv::grad(f, p1)),
      std_error = num(sqrt(diag(V))), vcov_fixef = mat(V),
      bobyqa = list(feval = opt$feval, ierr = opt$ierr, msg = opt$msg),
      seconds = round(proc.time()[["elapsed"]] - t0, 3),
      note = paste(
        "an independent R evaluation of lme4's Laplace criterion (full constants; log det(Lambda'Z'WZ Lambda + I)",
        "with the expected (IRLS) weights W at the conditional modes, which are solved by Fisher scoring with",
        "step-halving until max|du| < 1e-13 (up to 200 iterations) at every call, so the function is smooth) minimised with",
        "minqa::bobyqa (rhoend 1e-11) from lme4's tight optimum; std_error from numDeriv::hessian of it.",
        "lme4's own objective carries a small path-dependent PIRLS error (lme4_minus_this_at_lme4_params),",
        "which limits how precisely lme4 pins down the optimum; these values show that limit. Not lme4 output:",
        "a check, and the better target where it differs from the top level by more than the test tolerance")
    )
  }, error = function(e) list(error = conditionMessage(e)))
}

# -2 log-likelihood by direct numerical integration (one scalar random effect per group)
exact_integral <- function(m, theta = getME(m, "theta"), beta = fixef(m)) {
  stopifnot(length(m@flist) == 1, length(getME(m, "theta")) == 1)
  fam <- family(m)
  g <- m@flist[[1]]
  eta0 <- as.vector(getME(m, "X") %*% beta) + getME(m, "offset")
  y <- m@resp$y
  wt <- m@resp$weights
  n <- m@resp$n
  tot <- 0
  for (lev in levels(g)) {
    i <- which(g == lev)
    h <- function(b) {
      vapply(b, function(bb) {
        v <- sum(log_density(fam, y[i], n[i], fam$linkinv(eta0[i] + theta * bb), wt[i])) + dnorm(bb, log = TRUE)
        if (is.finite(v)) v else -Inf
      }, numeric(1))
    }
    mo <- optimize(function(b) -h(b), c(-15, 15), tol = 1e-12)$minimum
    hm <- h(mo)
    eps <- 1e-4
    curv <- -(h(mo + eps) - 2 * hm + h(mo - eps)) / eps^2
    s <- 1 / sqrt(max(curv, 1e-8))
    val <- integrate(function(t) exp(h(mo + s * t) - hm), -Inf, Inf, rel.tol = 1e-12, abs.tol = 0,
                     subdivisions = 1000L)$value
    tot <- tot + log(val * s) + hm
  }
  -2 * tot
}

laplace_information_check <- function(m, tmb = NULL) {
  if (m@devcomp$dims[["nAGQ"]] != 1) return(NULL)
  lp <- tryCatch(laplace_parts(m), error = function(e) NULL)
  if (is.null(lp)) return(NULL)
  fam <- family(m)
  canonical <- (fam$family == "binomial" && fam$link == "logit") ||
    (fam$family == "poisson" && fam$link == "log")
  out <- list(
    link = fam$link, canonical = canonical,
    lme4_objective = objective_of(m),
    laplace_expected_information = lp$expected,
    laplace_observed_information = lp$observed,
    observed_minus_expected = lp$observed - lp$expected,
    lme4_minus_expected = objective_of(m) - lp$expected
  )
  if (!is.null(tmb)) {
    out$glmmTMB_objective_at_lme4_params <- tmb
    out$glmmTMB_minus_observed <- tmb - lp$observed
  }
  out$note <- paste(
    "objectives are -2 log-likelihood at lme4's tight (theta, beta) and conditional modes u:",
    "base = 2 * sum(-log f(y | eta)) + |u|^2, plus log det(Lambda'Z' W Z Lambda + I) with",
    "W = expected (IRLS / Fisher scoring) weights w * mu.eta^2 / V(mu) [= lme4] or W = observed",
    "second derivatives of -log f with respect to eta [= a true Laplace approximation, glmmTMB / TMB].",
    "They coincide for canonical links (logit binomial, log Poisson); for probit, cloglog and the",
    "negative binomial with log link lme4's 'Laplace' objective is the expected-information one."
  )
  out
}

exact_integral_check <- function(m) {
  if (length(m@flist) != 1 || length(getME(m, "theta")) != 1) return(NULL)
  r <- tryCatch({
    ex <- exact_integral(m)
    nagq <- m@devcomp$dims[["nAGQ"]]
    obj <- objective_of(m)
    full <- if (nagq > 1) obj + saturated_minus2loglik(m) else obj
    list(
      exact_objective_at_fit = ex,
      lme4_objective_full_constants = full,
      lme4_minus_exact = full - ex,
      note = paste(
        "exact_objective_at_fit: -2 log-likelihood at this fit's (theta, beta) by adaptive 1-D",
        "integrate() per group (rel.tol 1e-12) of the joint density, full constants. For AGQ fits",
        "lme4's objective is shifted by saturated_minus2loglik first. lme4_minus_exact is then the",
        "quadrature / Laplace approximation error at these parameters"
      )
    )
  }, error = function(e) list(error = conditionMessage(e)))
  r
}

pirls_check <- function(m, tolPwrss) {
  if (!is_glmm(m)) return(NULL)
  r <- tryCatch({
    f <- devfun_of(m, glmer_tight(tolPwrss))
    p <- opt_pars(m)
    v <- f(p)
    list(
      tolPwrss = tolPwrss, objective_fresh_devfun = v, minus_tight_objective = v - objective_of(m),
      note = paste(
        "objective re-evaluated at the tight (theta, beta) with a freshly built deviance function",
        "(PIRLS restarted, same tolPwrss); a difference shows PIRLS non-convergence / path dependence"
      )
    )
  }, error = function(e) list(error = conditionMessage(e)))
  r
}

tmb_crosscheck <- function(spec, data, m_tight, m_default) {
  if (is.null(spec$tmb_formula) || !requireNamespace("glmmTMB", quietly = TRUE)) return(NULL)
  env <- new.env(parent = globalenv())
  env$data <- data
  f <- as.formula(spec$tmb_formula, env = env)
  cl <- as.call(c(list(quote(glmmTMB::glmmTMB), f, data = quote(data)), spec$tmb_args))
  r <- tryCatch(run_captured(eval(cl, env)), error = function(e) list(error = conditionMessage(e)))
  if (!is.null(r$error)) return(list(error = r$error))
  t <- r$value
  ll <- logLik(t)
  vc <- glmmTMB::VarCorr(t)$cond
  fam <- family(t)$family
  out <- list(
    version = as.character(packageVersion("glmmTMB")),
    call = paste(deparse(cl, width.cutoff = 500L), collapse = " "),
    logLik = sc(ll), logLik_df = attr(ll, "df"),
    lme4_tight_minus_glmmTMB_logLik = sc(logLik(m_tight)) - sc(ll),
    lme4_default_minus_glmmTMB_logLik = sc(logLik(m_default)) - sc(ll),
    compared_with = "lme4 tight fit (top level)",
    fixef = num(glmmTMB::fixef(t)$cond),
    sigma = if (fam %in% c("gaussian")) sigma(t) else NULL,
    nb_theta = if (fam == "nbinom2") sigma(t) else NULL,
    re_sd = lapply(vc, function(S) num(attr(S, "stddev"))),
    re_cor = lapply(vc, function(S) if (ncol(S) > 1) mat(attr(S, "correlation")) else NULL),
    convergence = t$fit$convergence, convergence_message = t$fit$message,
    pdHess = t$sdr$pdHess,
    std_error = tryCatch(num(sqrt(diag(vcov(t)$cond))), error = function(e) NULL),
    warnings = r$warnings, messages = r$messages, note = spec$tmb_note, seconds = r$seconds
  )
  # glmmTMB's Laplace objective evaluated at lme4's parameters (GLMMs with scalar or 2x2 terms)
  if (is_glmm(m_tight) && m_tight@devcomp$dims[["nAGQ"]] == 1) {
    at <- tryCatch({
      par <- t$fit$par
      nm <- names(par)
      par[nm == "beta"] <- fixef(m_tight)
      vcl <- VarCorr(m_tight)
      th <- unlist(lapply(vcl, function(S) {
        s <- attr(S, "stddev")
        if (length(s) == 1) return(log(s))
        if (length(s) != 2) stop("only 1x1 and 2x2 terms")
        rho <- attr(S, "correlation")[2, 1]
        c(log(s), rho / sqrt(1 - rho^2))
      }))
      par[nm == "theta"] <- th
      if (any(nm == "betad")) par[nm == "betad"] <- log(nb_theta_of(m_tight))
      2 * t$obj$fn(par)
    }, error = function(e) NULL)
    out$objective_at_lme4_params <- at
    out$objective_at_lme4_params_note <- paste(
      "2 * glmmTMB's obj$fn (Laplace with the observed Hessian, full constants) at lme4's tight",
      "estimates mapped to glmmTMB's parameters (log SD; correlation via rho = t / sqrt(1 + t^2))"
    )
  }
  out
}

bobyqa_crosscheck <- function(spec, data, m_tight) {
  if (!is_glmm(m_tight) || identical(spec$fitter, "glmer.nb")) return(NULL)
  fr <- tryCatch(fit_model(spec$fitter, spec$formula, data, spec$args, glmer_bobyqa_tight()),
                 error = function(e) list(error = conditionMessage(e)))
  if (!is.null(fr$error)) return(list(error = fr$error))
  mb <- fr$value
  list(
    control = "glmerControl(optimizer = 'bobyqa', optCtrl = list(rhoend = 1e-12, maxfun = 1e6), tolPwrss = 1e-14)",
    objective = objective_of(mb), minus_tight_objective = objective_of(mb) - objective_of(m_tight),
    theta = num(getME(mb, "theta")), beta = num(fixef(mb)),
    theta_minus_tight = num(getME(mb, "theta") - getME(m_tight, "theta")),
    beta_minus_tight = num(fixef(mb) - fixef(m_tight)),
    std_error_no_hessian_minus_tight = suppressWarnings(num(sqrt(diag(as.matrix(vcov(mb, use.hessian = FALSE)))) -
                                             sqrt(diag(as.matrix(vcov(m_tight, use.hessian = FALSE)))))),
    feval = sc(mb@optinfo$feval), message = sc(mb@optinfo$message), warnings = fr$warnings,
    note = "independent tight refit with minqa's BOBYQA: the spread to the top level shows how far the optimum is pinned down"
  )
}

# ---------------------------------------------------------------------------------------------
# one model: tight fit, default fit, extraction and checks
# ---------------------------------------------------------------------------------------------
run_model <- function(spec, data) {
  t_all <- proc.time()[["elapsed"]]
  glmm_fitter <- spec$fitter %in% c("glmer", "glmer.nb")
  tight_args <- c(spec$args, spec$tight_args)
  tol_used <- NULL
  tol_failures <- list()
  if (glmm_fitter) {
    # PIRLS may fail to converge at 1e-14 (step-halvings); then loosen step by step
    ladder <- c(TOL_PWRSS, 1e-13, 1e-12, 1e-11, 1e-10)
    if (spec$fitter == "glmer.nb") ladder <- c(ladder, 1e-9, 1e-8, 1e-7)
    for (tp in ladder) {
      ft <- tryCatch(fit_model(spec$fitter, spec$formula, data, tight_args, glmer_tight(tp)),
                     error = function(e) e)
      if (!inherits(ft, "error")) {
        tol_used <- tp
        break
      }
      tol_failures[[length(tol_failures) + 1]] <- list(tolPwrss = tp, error = conditionMessage(ft))
    }
    if (is.null(tol_used)) stop("no tolPwrss worked for ", spec$name)
  } else {
    ft <- fit_model(spec$fitter, spec$formula, data, tight_args, lmer_tight())
  }
  if (isTRUE(spec$refine_nb)) {
    ft <- refine_nb(ft, spec, data, tol_used)
    if (!is.null(ft$tol_final)) tol_used <- ft$tol_final
  }
  fd <- fit_model(spec$fitter, spec$formula, data, spec$args, NULL)
  mt <- ft$value
  md <- fd$value
  out <- c(
    list(model = spec$name, dataset = attr(data, "info"),
         values_from = if (glmm_fitter) sprintf(VALUES_FROM_GLMM, tol_used) else VALUES_FROM_LMM,
         shared_with_developers = TRUE),
    extract_fit(ft, spec)
  )
  if (!is.null(spec$values_from_extra)) out$values_from <- paste(out$values_from, spec$values_from_extra)
  out$criteria$objective_default_fit <- objective_of(md)
  out$default_fit <- default_summary(fd, ft)
  out$checks <- list(
    tight_objective_le_default = objective_of(mt) <= objective_of(md),
    tight_minus_default_objective = objective_of(mt) - objective_of(md),
    tight_fit_warnings = ft$warnings, default_fit_warnings = fd$warnings,
    default_fit_lme4_messages = nullable(chr(md@optinfo$conv$lme4$messages)),
    tolPwrss_tight = tol_used, tolPwrss_failures = nullable(tol_failures)
  )
  extras <- list(gradient_check = gradient_check(mt))
  if (is_glmm(mt)) {
    extras$hessian_richardson <- hessian_check(mt)
    extras$pirls_check <- pirls_check(mt, tol_used)
    extras$bobyqa_tight_refit <- bobyqa_crosscheck(spec, data, mt)
  }
  tmb <- tmb_crosscheck(spec, data, mt, md)
  if (!is.null(tmb)) extras$glmmTMB_crosscheck <- tmb
  if (is_glmm(mt)) {
    extras$laplace_information_check <- laplace_information_check(mt, tmb$objective_at_lme4_params)
    extras$exact_integral_check <- exact_integral_check(mt)
    extras$smooth_laplace_refit <- smooth_laplace_refit(mt)
  }
  if (!is.null(spec$extra_fun)) extras <- c(extras, spec$extra_fun(mt, md, data, ft, fd))
  out$extras <- extras
  out$timing <- list(
    default_fit_s = fd$seconds, tight_fit_s = ft$seconds,
    model_total_s = round(proc.time()[["elapsed"]] - t_all, 3),
    note = "single elapsed times on a shared 2-core machine (rough); model_total_s includes all checks and cross-checks"
  )
  attr(out, "fits") <- list(tight = ft, default = fd)
  out
}

# =============================================================================================
# model specifications
# =============================================================================================
cbpp <- load_data("cbpp")
po <- load_data("poisson_offset")
gt <- load_data("grouseticks")
bs <- load_data("bern_slope")
sw <- load_data("sleep_weights")
ss <- load_data("sleepstudy")
pen <- load_data("Penicillin")
pas <- load_data("Pastes")
cake <- load_data("cake")

cbpp_new <- data.frame(herd = c("1", "new_herd", "new_herd"), period = c("1", "2", "4"))
po_new <- data.frame(g = c("g01", "new_g", "new_g"), x = c(0.5, -1, 1.2), exposure = c(2, 1.5, 3))
gt_new <- data.frame(LOCATION = c("32", "new_location", "new_location"), YEAR = c("95", "96", "97"),
                     cHEIGHT = c(0, 10, -20))
bs_new <- data.frame(g = c("g001", "new_g", "new_g"), x = c(0.5, -1, 2))
sleep_new <- data.frame(Subject = c("308", "new_subject", "new_subject"), Days = c(0, 5, 9))

cbpp_formula <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
cbpp_tmb <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
fam_binom <- quote(binomial)

specs <- list(
  list(name = "cbpp_binomial", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial)), weights = NULL, offset = NULL, newdata = cbpp_new,
       tmb_formula = cbpp_tmb, tmb_args = list(family = quote(binomial))),
  list(name = "cbpp_binomial_agq9", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial), nAGQ = 9), newdata = cbpp_new),
  list(name = "cbpp_binomial_agq25", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial), nAGQ = 25), newdata = cbpp_new),
  list(name = "cbpp_binomial_nagq0", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial), nAGQ = 0), newdata = cbpp_new),
  list(name = "cbpp_binomial_prop", data = "cbpp", fitter = "glmer",
       formula = "incidence / size ~ period + (1 | herd)",
       args = list(family = quote(binomial), weights = quote(size)), weights = "size", newdata = cbpp_new,
       tmb_formula = "incidence / size ~ period + (1 | herd)",
       tmb_args = list(family = quote(binomial), weights = quote(size))),
  list(name = "cbpp_probit", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial(link = "probit"))), newdata = cbpp_new,
       tmb_formula = cbpp_tmb, tmb_args = list(family = quote(binomial(link = "probit")))),
  list(name = "cbpp_cloglog", data = "cbpp", fitter = "glmer", formula = cbpp_formula,
       args = list(family = quote(binomial(link = "cloglog"))), newdata = cbpp_new,
       tmb_formula = cbpp_tmb, tmb_args = list(family = quote(binomial(link = "cloglog")))),
  list(name = "poisson_offset", data = "po", fitter = "glmer",
       formula = "count ~ x + (1 | g) + offset(log(exposure))",
       args = list(family = quote(poisson)), offset = "log(exposure)", newdata = po_new,
       tmb_formula = "count ~ x + (1 | g) + offset(log(exposure))", tmb_args = list(family = quote(poisson))),
  list(name = "poisson_offset_agq9", data = "po", fitter = "glmer",
       formula = "count ~ x + (1 | g) + offset(log(exposure))",
       args = list(family = quote(poisson), nAGQ = 9), offset = "log(exposure)", newdata = po_new),
  list(name = "nb_poisson_offset", data = "po", fitter = "glmer.nb",
       formula = "count ~ x + (1 | g) + offset(log(exposure))",
       args = list(), refine_nb = TRUE, offset = "log(exposure)", newdata = po_new,
       tmb_formula = "count ~ x + (1 | g) + offset(log(exposure))",
       tmb_args = list(family = quote(glmmTMB::nbinom2)),
       values_from_extra = "glmer.nb: the NB theta is then refined by optimize() (tol 1e-10) over fresh tight glmer fits at fixed NB theta; see extras.nb_estimation.refinement."),
  list(name = "nb_grouseticks", data = "gt", fitter = "glmer.nb",
       formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
       args = list(), refine_nb = TRUE, newdata = gt_new,
       tmb_formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
       tmb_args = list(family = quote(glmmTMB::nbinom2)),
       values_from_extra = "glmer.nb: the NB theta is then refined by optimize() (tol 1e-10) over fresh tight glmer fits at fixed NB theta; see extras.nb_estimation.refinement."),
  list(name = "bern_slope_probit", data = "bs", fitter = "glmer", formula = "y ~ x + (x | g)",
       args = list(family = quote(binomial(link = "probit"))), newdata = bs_new,
       tmb_formula = "y ~ x + (x | g)", tmb_args = list(family = quote(binomial(link = "probit")))),
  list(name = "sleep_weights_reml", data = "sw", fitter = "lmer", formula = "Reaction ~ Days + (Days | Subject)",
       args = list(REML = TRUE, weights = quote(w)), weights = "w", newdata = sleep_new,
       tmb_formula = "Reaction ~ Days + (Days | Subject)",
       tmb_args = list(family = quote(gaussian()), REML = TRUE, dispformula = quote(~ offset(-log(w)))),
       tmb_note = paste("glmmTMB's gaussian 'weights' multiply the log-likelihood, so lme4's precision",
                        "weights are written as dispformula = ~ offset(-log(w)) (dispersion = sigma^2 / w);",
                        "sigma(glmmTMB) is then exp(dispersion intercept / 2)")),
  list(name = "sleep_weights_ml", data = "sw", fitter = "lmer", formula = "Reaction ~ Days + (Days | Subject)",
       args = list(REML = FALSE, weights = quote(w)), weights = "w", newdata = sleep_new,
       tmb_formula = "Reaction ~ Days + (Days | Subject)",
       tmb_args = list(family = quote(gaussian()), REML = FALSE, dispformula = quote(~ offset(-log(w)))),
       tmb_note = "weights written as dispformula = ~ offset(-log(w)), see sleep_weights_reml"),
  list(name = "sleep_offset_reml", data = "ss", fitter = "lmer",
       formula = "Reaction ~ Days + (1 | Subject) + offset(2 * Days)",
       args = list(REML = TRUE), offset = "2 * Days", newdata = sleep_new,
       tmb_formula = "Reaction ~ Days + (1 | Subject) + offset(2 * Days)",
       tmb_args = list(family = quote(gaussian()), REML = TRUE))
)
DATA <- list(cbpp = cbpp, po = po, gt = gt, bs = bs, sw = sw, ss = ss)

# glmer.nb in lme4 1.1-31 cannot take its own `tol` argument (it is passed on to glmer:
# "unused argument"), its wide theta search can make PIRLS fail at tolPwrss 1e-14, and refit()
# keeps the tolPwrss of the object it starts from. So the tight NB fit is: glmer.nb with tight
# glmer control (the first tolPwrss of the ladder that works; default tol 5e-5 for optimize()
# over log NB theta), then our own 1-D refinement: optimize() over log(NB theta) in
# log(theta) +- 0.05, tol 1e-10, each evaluation a FRESH glmer fit with
# family = MASS::negative.binomial(theta) and tight control (tolPwrss 1e-14). This is the same
# profiled objective that glmer.nb minimises. If the refined optimum sits on that interval's
# edge (NB theta running off to infinity, the Poisson limit) or the refinement fails, the top
# level becomes a fresh tight glmer fit at glmer.nb's own NB theta (a fixed-theta reference),
# flagged in extras.nb_estimation.refinement.
refine_nb <- function(ft, spec, data, tol_search) {
  m <- ft$value
  th0 <- getME(m, "glmer.nb.theta")
  half <- 0.05
  fit_at <- function(lt, tp) {
    fam <- bquote(MASS::negative.binomial(theta = .(exp(lt))))
    fit_model("glmer", spec$formula, data, list(family = fam), glmer_tight(tp))
  }
  t0 <- proc.time()[["elapsed"]]
  failures <- list()
  opt <- NULL
  nev <- 0L
  for (tp in c(TOL_PWRSS, 1e-13, 1e-12)) {
    nev <- 0L
    opt <- tryCatch(optimize(function(lt) {
      nev <<- nev + 1L
      objective_of(fit_at(lt, tp)$value)
    }, interval = log(th0) + c(-half, half), tol = 1e-10), error = function(e) e)
    if (!inherits(opt, "error")) break
    failures[[length(failures) + 1]] <- list(tolPwrss = tp, error = conditionMessage(opt))
    opt <- NULL
  }
  at_edge <- !is.null(opt) && abs(abs(opt$minimum - log(th0)) - half) < 1e-6
  used <- !is.null(opt) && !at_edge
  fixed_theta <- !used
  fin <- NULL
  tp_fin <- NULL
  lt_fin <- if (used) opt$minimum else log(th0)
  for (tp in c(TOL_PWRSS, 1e-13, 1e-12, 1e-11, 1e-10)) {
    fin <- tryCatch(fit_at(lt_fin, tp), error = function(e) e)
    if (!inherits(fin, "error")) {
      tp_fin <- tp
      break
    }
    failures[[length(failures) + 1]] <- list(tolPwrss = tp, error = paste("final fit:", conditionMessage(fin)))
    fin <- NULL
  }
  info <- list(
    nb_theta_before = th0, nb_theta_after = exp(lt_fin), interval_log_theta = num(log(th0) + c(-half, half)),
    optimize_tol = 1e-10, tolPwrss_search = tol_search, tolPwrss_final = tp_fin,
    nevals = nev, at_interval_edge = at_edge, refinement_used = used,
    top_level_is_fixed_theta_fit = fixed_theta, failures = nullable(failures),
    objective_before = objective_of(m), objective_after = if (is.null(fin)) NULL else objective_of(fin$value),
    warnings = if (is.null(fin)) NULL else fin$warnings, seconds = round(proc.time()[["elapsed"]] - t0, 3),
    note = paste(
      "refinement of the glmer.nb fit: optimize() over log(NB theta) in log(theta) +- 0.05, tol = 1e-10,",
      "each evaluation a fresh glmer(family = MASS::negative.binomial(theta)) fit with tight control; the",
      "top level is the fresh tight fit at the optimum (its call shows glmer with the NB theta). If the",
      "optimum is at the interval edge or the search fails (top_level_is_fixed_theta_fit), the top level",
      "is a fresh tight glmer fit at glmer.nb's own NB theta, i.e. a fixed-theta reference")
  )
  if (!is.null(fin)) {
    fin$seconds <- ft$seconds + info$seconds
    fin$warnings <- I(c(ft$warnings, fin$warnings))
    fin$tol_final <- tp_fin
    ft <- fin
  }
  ft$nb_refine <- info
  ft
}

# negative binomial: estimation details of glmer.nb
nb_extra <- function(mt, md, data, ft, fd) {
  th <- getME(mt, "glmer.nb.theta")
  ctl <- glmer_tight()
  prof <- tryCatch({
    hs <- c(-1e-2, -1e-3, 0, 1e-3, 1e-2)
    dev <- vapply(hs, function(h) {
      r <- suppressWarnings(suppressMessages(lme4:::refitNB(mt, theta = th * exp(h), control = ctl)))
      -2 * sc(logLik(r))
    }, numeric(1))
    h <- 1e-3
    d1 <- (dev[4] - dev[2]) / (2 * h)
    d2 <- (dev[4] - 2 * dev[3] + dev[2]) / h^2
    list(log_theta_steps = num(hs), minus2logLik = num(dev), derivative_wrt_log_theta = d1,
         second_derivative_wrt_log_theta = d2,
         se_log_theta_from_profile = if (d2 > 0) sqrt(2 / d2) else NULL,
         note = paste("-2 logLik of refits (theta_RE, beta re-optimised, tight control) at NB theta * exp(step):",
                      "the profile of the objective in log(NB theta) around lme4's estimate"))
  }, error = function(e) list(error = conditionMessage(e)))
  interval_default <- log(getME(md, "glmer.nb.theta"))
  list(nb_estimation = list(
    nb_theta = th, nb_theta_name = "getME(m, 'glmer.nb.theta') (MASS::negative.binomial 'theta'; Var(y) = mu + mu^2 / theta)",
    nevals_tight = attr(mt, "nevals"), nevals_default = attr(md, "nevals"),
    nb_theta_default_fit = getME(md, "glmer.nb.theta"),
    method = paste(
      "lme4::glmer.nb: (1) glmer Poisson fit; (2) initial theta = MASS::theta.ml(y, fitted(poisson fit))",
      "(iteration limit 20); (3) glmer with MASS::negative.binomial(theta) at that theta; (4) optimize() of",
      "-2 logLik over log(theta) in log(theta0) +- 3 with tolerance tol (default 5e-5), each evaluation a",
      "refit of (theta_RE, beta) at the fixed NB theta (warm-started from the previous one); the returned fit",
      "is the last refit at the optimum. logLik df counts the NB theta. vcov(m) ignores the uncertainty in",
      "NB theta. The tight top level refines NB theta further, see refinement."
    ),
    refinement = ft$nb_refine,
    profile_check = prof
  ))
}
for (i in seq_along(specs)) if (specs[[i]]$fitter == "glmer.nb") specs[[i]]$extra_fun <- nb_extra

fits <- list()
for (spec in specs) {
  if (!wanted(spec$name)) next
  cat("==", spec$name, "\n")
  res <- run_model(spec, DATA[[spec$data]])
  fits[[spec$name]] <- attr(res, "fits")
  attr(res, "fits") <- NULL
  write_out(res, spec$name)
}

# =============================================================================================
# inference references
# =============================================================================================
suppressPackageStartupMessages({
  library(lmerTest)
  library(pbkrtest)
})

coef_table <- function(ct, method) {
  list(names = chr(rownames(ct)), estimate = num(ct[, "Estimate"]), std_error = num(ct[, "Std. Error"]),
       df = num(ct[, "df"]), t_value = num(ct[, "t value"]), p_value = num(ct[, "Pr(>|t|)"]), method = method)
}
anova_table <- function(a, method) {
  out <- list(rows = chr(rownames(a)))
  for (cn in colnames(a)) out[[cn]] <- num(a[[cn]])
  out$heading <- chr(attr(a, "heading"))
  out$method <- method
  out
}
L_matrices <- function(a) {
  tests <- lmerTest::show_tests(a, fractions = FALSE)
  lapply(tests, function(L) list(rows = chr(rownames(L)), columns = chr(colnames(L)), L = mat(L)))
}

lmm_inference <- function(m, anova_types = c(), profile = TRUE) {
  out <- list(fit = "all computed on the tight refit (top level)",
              lmerTest = as.character(packageVersion("lmerTest")),
              pbkrtest = as.character(packageVersion("pbkrtest")))
  r <- run_captured(summary(m, ddf = "Satterthwaite")$coefficients)
  out$satterthwaite <- c(coef_table(r$value, "lmerTest summary(m, ddf = 'Satterthwaite'): unadjusted SE, Satterthwaite df, t = estimate / SE"),
                         list(warnings = r$warnings, seconds = r$seconds))
  r <- run_captured(summary(m, ddf = "Kenward-Roger")$coefficients)
  Va <- as.matrix(pbkrtest::vcovAdj(m))
  out$kenward_roger <- c(
    coef_table(r$value, paste("lmerTest summary(m, ddf = 'Kenward-Roger'): SE = sqrt(diag(pbkrtest::vcovAdj(m)))",
                              "(Kenward-Roger adjusted covariance), KR df from pbkrtest::get_Lb_ddf, t = estimate / adjusted SE")),
    list(vcov_adj = list(names = chr(rownames(Va)), matrix = mat(Va)),
         vcov_unadjusted = mat(vcov(m)),
         std_error_from_vcovAdj = num(sqrt(diag(Va))), warnings = r$warnings, seconds = r$seconds)
  )
  for (ty in anova_types) {
    for (dd in c("Satterthwaite", "Kenward-Roger")) {
      key <- sprintf("anova_type%d_%s", ty, if (dd == "Satterthwaite") "satterthwaite" else "kenward_roger")
      r <- run_captured(anova(m, type = ty, ddf = dd))
      out[[key]] <- c(anova_table(r$value, sprintf("lmerTest anova(m, type = %d, ddf = '%s')", ty, dd)),
                      list(warnings = r$warnings, seconds = r$seconds))
    }
    a <- anova(m, type = ty, ddf = "Satterthwaite")
    out[[sprintf("type%d_contrasts", ty)]] <- L_matrices(a)
  }
  if (length(anova_types)) {
    out$contrasts_note <- paste(
      "typeN_contrasts: lmerTest's L matrices (lmerTest::show_tests(anova(m, type = N))), in terms of",
      "the model's treatment-coded coefficients; each term's F tests L beta = 0. Type 1 (sequential)",
      "L rows come from the Doolittle decomposition of X'X, so they are not unit vectors"
    )
  }
  if (profile) out <- c(out, profile_cis(m))
  out
}

profile_cis <- function(m) {
  glmm <- isGLMM(m)
  vcdf <- as.data.frame(VarCorr(m), order = "lower.tri")
  est_sig <- vcdf$sdcor
  labels <- c(lme4:::tnames(m, old = FALSE, prefix = c("sd", "cor")), if (!glmm) "sigma")
  pr <- run_captured(profile(m, signames = TRUE))
  ci <- confint(pr$value, level = 0.95)
  prf <- run_captured(profile(m, signames = TRUE, delta.cutoff = 1 / 32))
  cif <- confint(prf$value, level = 0.95)
  est <- c(est_sig, fixef(m))
  if (length(est) != nrow(ci)) est <- rep(NA, nrow(ci))
  wald <- run_captured(confint(m, method = "Wald", level = 0.95))
  w <- wald$value
  list(
    confint_profile = list(
      names = chr(rownames(ci)), label = chr(c(unname(labels), names(fixef(m)))),
      estimate = num(est), lower = num(ci[, 1]), upper = num(ci[, 2]), level = 0.95,
      method = paste0(
        "confint(profile(m), level = 0.95) == confint(m, method = 'profile'): lme4 profile on the sd/cor ",
        "scale (.sig0k in the order of as.data.frame(VarCorr(m), order = 'lower.tri')",
        if (!glmm) ", .sigma = residual SD" else "",
        "), profile points joined by interpolation splines", if (glmm) "; GLMM: profile of the Laplace deviance" else ""
      ),
      fine_grid = list(
        lower = num(cif[, 1]), upper = num(cif[, 2]),
        note = paste("same with profile(m, delta.cutoff = 1/32) (default 1/8): 4x denser profile grid;",
                     "the difference from the default shows the spline-interpolation error of lme4's profile CIs")
      ),
      warnings = pr$warnings, messages = pr$messages, fine_grid_warnings = prf$warnings,
      seconds = pr$seconds, fine_grid_seconds = prf$seconds
    ),
    confint_wald = list(
      names = chr(rownames(w)), label = chr(c(unname(labels), names(fixef(m)))),
      estimate = num(est), lower = num(w[, 1]), upper = num(w[, 2]), level = 0.95, warnings = wald$warnings,
      method = "confint(m, method = 'Wald'): estimate +- qnorm(0.975) * SE for fixed effects; NA (null) for variance parameters"
    )
  )
}

inference_specs <- list(
  list(name = "sleep_intercept_inference", data = ss, dname = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)",
       anova_types = c(3, 1), newdata = sleep_new,
       tmb_formula = "Reaction ~ Days + (1 | Subject)", tmb_args = list(family = quote(gaussian()), REML = TRUE)),
  list(name = "penicillin_inference", data = pen, dname = "Penicillin",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", anova_types = c(),
       newdata = data.frame(plate = c("a", "new_plate", "new_plate"), sample = c("A", "B", "new_sample")),
       tmb_formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", tmb_args = list(family = quote(gaussian()), REML = TRUE)),
  list(name = "pastes_inference", data = pas, dname = "Pastes", formula = "strength ~ 1 + (1 | batch/cask)",
       anova_types = c(), newdata = data.frame(batch = c("A", "A", "new_batch"), cask = c("a", "new_cask", "a")),
       tmb_formula = "strength ~ 1 + (1 | batch/cask)", tmb_args = list(family = quote(gaussian()), REML = TRUE)),
  list(name = "cake_type1", data = cake, dname = "cake", formula = "angle ~ recipe * temp + (1 | recipe:replicate)",
       anova_types = c(1, 3), profile = FALSE,
       newdata = data.frame(recipe = c("A", "B", "C"), replicate = c("1", "new_rep", "new_rep"), temp = c(175, 200, 225)),
       tmb_formula = "angle ~ recipe * temp + (1 | recipe:replicate)", tmb_args = list(family = quote(gaussian()), REML = TRUE))
)

lmer_fits <- list()
for (spec in inference_specs) {
  if (!wanted(spec$name)) next
  cat("==", spec$name, "\n")
  t0 <- proc.time()[["elapsed"]]
  fspec <- list(name = spec$name, formula = spec$formula, fitter = "lmerTest::lmer", args = list(REML = TRUE),
                newdata = spec$newdata, tmb_formula = spec$tmb_formula, tmb_args = spec$tmb_args)
  res <- run_model(fspec, spec$data)
  mt <- attr(res, "fits")$tight$value
  lmer_fits[[spec$name]] <- mt
  attr(res, "fits") <- NULL
  res$inference <- lmm_inference(mt, spec$anova_types, profile = !isFALSE(spec$profile))
  res$timing$model_total_s <- round(proc.time()[["elapsed"]] - t0, 3)
  write_out(res, spec$name)
}

# ---------------------------------------------------------------------------------------------
# GLMM inference: cbpp likelihood-ratio test and profile CIs
# ---------------------------------------------------------------------------------------------
anova_lrt_list <- function(a, rows, method, messages = character(0), warnings = character(0)) {
  out <- list(rows = chr(rows))
  for (cn in colnames(a)) out[[cn]] <- num(a[[cn]])
  c(out, list(method = method, messages = I(messages), warnings = I(warnings)))
}
if (wanted("cbpp_binomial_inference")) {
  cat("== cbpp_binomial_inference\n")
  t0 <- proc.time()[["elapsed"]]
  spec <- specs[[which(vapply(specs, function(s) s$name, "") == "cbpp_binomial")]]
  spec$name <- "cbpp_binomial_inference"
  res <- run_model(spec, cbpp)
  m1 <- attr(res, "fits")$tight$value
  m1d <- attr(res, "fits")$default$value
  attr(res, "fits") <- NULL
  f0 <- "cbind(incidence, size - incidence) ~ 1 + (1 | herd)"
  m0 <- fit_model("glmer", f0, cbpp, list(family = quote(binomial)), glmer_tight())
  m0d <- fit_model("glmer", f0, cbpp, list(family = quote(binomial)), NULL)
  a_t <- run_captured(anova(m0$value, m1))
  a_d <- run_captured(anova(m0d$value, m1d))
  inf <- list(fit = "all computed on the tight refit (top level)")
  inf$anova_lrt <- list(
    m0_formula = f0, m1_formula = cbpp_formula,
    lme4_anova = anova_lrt_list(a_t$value, c("m0", "m1"),
                                "anova(m0, m1) on the two tight Laplace fits (GLMMs are not refitted); deviance column = -2 logLik",
                                a_t$messages, a_t$warnings),
    default_fits_anova = anova_lrt_list(a_d$value, c("m0", "m1"),
                                        "anova(m0, m1) on lme4's default fits", a_d$messages, a_d$warnings),
    m0_tight = list(objective = objective_of(m0$value), theta = num(getME(m0$value, "theta")),
                    beta = num(fixef(m0$value)), warnings = m0$warnings,
                    objective_default_fit = objective_of(m0d$value))
  )
  inf <- c(inf, profile_cis(m1))
  res$inference <- inf
  res$timing$model_total_s <- round(proc.time()[["elapsed"]] - t0, 3)
  write_out(res, "cbpp_binomial_inference")
}

# ---------------------------------------------------------------------------------------------
# ICC and Nakagawa R2
# ---------------------------------------------------------------------------------------------
# Var_F: variance of the fixed-effects linear predictor X beta (R's var(), denominator n - 1;
#        offsets excluded). Var_R: random-effect variance, per term mean over rows of z_i' Sigma z_i
#        (Johnson 2014; equals the sum of the intercept variances for random-intercept models).
# Var_D: distribution-specific (observation-level) variance: Gaussian sigma^2; binomial logit
#        pi^2 / 3 (latent logistic); Poisson log lognormal approximation log(1 + 1 / lambda),
#        lambda = exp(beta0_null + Var_R_null / 2) from the null model (intercept only + same
#        random effects + same offset), Nakagawa, Johnson & Schielzeth (2017).
# R2_marginal = Var_F / (Var_F + Var_R + Var_D); R2_conditional = (Var_F + Var_R) / (...);
# ICC_adjusted = Var_R / (Var_R + Var_D); ICC_conditional = Var_R / (Var_F + Var_R + Var_D).
re_variance <- function(m) {
  vc <- VarCorr(m)
  cn <- m@cnms
  mf <- model.frame(m)
  out <- list()
  for (i in seq_along(cn)) {
    S <- vc[[i]]
    cols <- cn[[i]]
    Zt <- model.matrix(reformulate(if (identical(cols, "(Intercept)")) "1" else setdiff(cols, "(Intercept)"),
                                   intercept = "(Intercept)" %in% cols), mf)
    Zt <- Zt[, cols, drop = FALSE]
    out[[names(cn)[i]]] <- mean(rowSums((Zt %*% S) * Zt))
  }
  out
}
r2_block <- function(m, m_null = NULL) {
  fam <- family(m)
  X <- getME(m, "X")
  var_f <- var(as.vector(X %*% fixef(m)))
  vr_terms <- re_variance(m)
  var_r <- sum(unlist(vr_terms))
  extra <- list()
  if (fam$family == "gaussian") {
    var_d <- sigma(m)^2
    vd_formula <- "sigma^2 (residual variance)"
  } else if (fam$family == "binomial" && fam$link == "logit") {
    var_d <- pi^2 / 3
    vd_formula <- "pi^2 / 3 (variance of the standard logistic distribution; theoretical, latent scale)"
  } else if (fam$family == "poisson" && fam$link == "log") {
    vr_null <- sum(unlist(re_variance(m_null)))
    b0 <- unname(fixef(m_null)[1])
    lambda <- exp(b0 + vr_null / 2)
    var_d <- log1p(1 / lambda)
    vd_formula <- "log(1 + 1 / lambda), lambda = exp(beta0_null + Var_R_null / 2)"
    extra <- list(
      null_model = list(formula = paste(deparse(formula(m_null), width.cutoff = 500L), collapse = " "),
                        beta0 = b0, var_r = vr_null, objective = objective_of(m_null)),
      lambda = lambda,
      alternatives = list(
        delta = list(var_d = 1 / lambda, formula = "1 / lambda"),
        trigamma = list(var_d = trigamma(lambda), formula = "trigamma(lambda)"),
        lognormal_lambda_exp_beta0 = list(
          lambda = exp(b0), var_d = log1p(1 / exp(b0)),
          formula = "log(1 + 1 / exp(beta0_null)) (no Var_R/2 term: what performance 0.10.2 / insight 0.19.0 do)")
      ),
      offset_note = paste("the null model keeps offset(log(exposure)), so lambda is the rate at exposure 1",
                          "(log-exposure 0); the offset is not part of Var_F")
    )
    for (k in c("delta", "trigamma", "lognormal_lambda_exp_beta0")) {
      vd <- extra$alternatives[[k]]$var_d
      extra$alternatives[[k]]$r2_marginal <- var_f / (var_f + var_r + vd)
      extra$alternatives[[k]]$r2_conditional <- (var_f + var_r) / (var_f + var_r + vd)
      extra$alternatives[[k]]$icc_adjusted <- var_r / (var_r + vd)
    }
  } else {
    stop("unsupported family")
  }
  tot <- var_f + var_r + var_d
  c(list(
    family = fam$family, link = fam$link,
    var_fixed = var_f, var_fixed_formula = "var(X %*% beta) with R's var() (denominator n - 1), offsets excluded",
    var_random = var_r, var_random_terms = vr_terms,
    var_random_formula = "sum over terms of mean_i(z_i' Sigma_term z_i) (Johnson 2014); random intercepts: sum of variances",
    var_distribution = var_d, var_distribution_formula = vd_formula,
    r2_marginal = var_f / tot, r2_conditional = (var_f + var_r) / tot,
    icc_adjusted = var_r / (var_r + var_d), icc_conditional = var_r / tot
  ), extra)
}
performance_block <- function(m) {
  if (!requireNamespace("performance", quietly = TRUE)) return(NULL)
  r2 <- try_captured(performance::r2_nakagawa(m))
  ic <- try_captured(performance::icc(m))
  v <- try_captured(insight::get_variance(m))
  list(
    version = as.character(packageVersion("performance")), insight = as.character(packageVersion("insight")),
    r2_nakagawa = if (is.null(r2$error)) list(r2_marginal = sc(r2$value$R2_marginal), r2_conditional = sc(r2$value$R2_conditional),
                                             warnings = r2$warnings, messages = r2$messages) else list(error = r2$error),
    icc = if (is.null(ic$error)) list(icc_adjusted = sc(ic$value$ICC_adjusted), icc_conditional = sc(ic$value$ICC_conditional),
                                     warnings = ic$warnings, messages = ic$messages) else list(error = ic$error),
    get_variance = if (is.null(v$error)) lapply(v$value, function(x) if (is.numeric(x)) num(x) else NULL) else list(error = v$error)
  )
}
if (wanted("icc_r2")) {
  cat("== icc_r2\n")
  out <- list(model = "icc_r2", shared_with_developers = TRUE,
              definitions = paste(
                "Nakagawa & Schielzeth (2013, Methods Ecol. Evol. 4:133) and Nakagawa, Johnson & Schielzeth",
                "(2017, J. R. Soc. Interface 14:20170213); random slopes via Johnson (2014, Methods Ecol.",
                "Evol. 5:944). Var_F = var(X beta) (n - 1 denominator); Var_R = sum over terms of mean_i",
                "z_i' Sigma z_i; Var_D distribution-specific. R2_marginal = Var_F / (Var_F + Var_R + Var_D),",
                "R2_conditional = (Var_F + Var_R) / (Var_F + Var_R + Var_D), ICC_adjusted = Var_R / (Var_R + Var_D),",
                "ICC_conditional = Var_R / (Var_F + Var_R + Var_D). All on the tight fits."),
              models = list())
  fl <- list(
    sleep_intercept = list(fitter = "lmer", formula = "Reaction ~ Days + (1 | Subject)", data = ss, args = list(REML = TRUE)),
    sleep_slope = list(fitter = "lmer", formula = "Reaction ~ Days + (Days | Subject)", data = ss, args = list(REML = TRUE)),
    cbpp_binomial = list(fitter = "glmer", formula = cbpp_formula, data = cbpp, args = list(family = quote(binomial))),
    poisson_offset = list(fitter = "glmer", formula = "count ~ x + (1 | g) + offset(log(exposure))", data = po,
                          args = list(family = quote(poisson)),
                          null = "count ~ 1 + (1 | g) + offset(log(exposure))")
  )
  for (nm in names(fl)) {
    s <- fl[[nm]]
    ctl <- if (s$fitter == "lmer") lmer_tight() else glmer_tight()
    fr <- fit_model(s$fitter, s$formula, s$data, s$args, ctl)
    m <- fr$value
    mn <- if (!is.null(s$null)) fit_model(s$fitter, s$null, s$data, s$args, ctl)$value else NULL
    blk <- c(list(formula = s$formula, fit = if (s$fitter == "lmer") "REML, tight" else "Laplace, tight",
                  dataset = attr(s$data, "info")$csv,
                  fixef = num(fixef(m)), theta = num(getME(m, "theta")), sigma = sigma(m),
                  fit_warnings = fr$warnings),
             r2_block(m, mn))
    blk$performance <- performance_block(m)
    out$models[[nm]] <- blk
  }
  write_out(out, "icc_r2")
}

# ---------------------------------------------------------------------------------------------
# session
# ---------------------------------------------------------------------------------------------
if (length(ONLY) == 0 || "_session" %in% ONLY) {
  ver <- function(p) tryCatch(as.character(packageVersion(p)), error = function(e) NULL)
  si <- sessionInfo()
  dpkg <- tryCatch(system2("dpkg-query", c("-W", "-f='${Package} ${Version}\\n'", "r-base-core", "r-cran-lme4",
                                           "r-cran-matrix", "r-cran-lmertest", "r-cran-pbkrtest", "r-cran-glmmtmb",
                                           "r-cran-performance", "r-cran-insight", "r-cran-tmb", "libblas3"),
                           stdout = TRUE), error = function(e) NULL)
  sess <- list(
    R = R.version.string, lme4 = ver("lme4"), Matrix = ver("Matrix"), jsonlite = ver("jsonlite"),
    nloptr = ver("nloptr"), minqa = ver("minqa"), lmerTest = ver("lmerTest"), pbkrtest = ver("pbkrtest"),
    glmmTMB = ver("glmmTMB"), TMB = ver("TMB"), MASS = ver("MASS"), numDeriv = ver("numDeriv"),
    performance = ver("performance"), insight = ver("insight"),
    blas = si$BLAS, lapack = si$LAPACK, platform = R.version$platform, os = si$running,
    cpu = tryCatch(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1]), error = function(e) NULL),
    ncores_visible = parallel::detectCores(),
    date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z", tz = "UTC"),
    debian_packages = chr(gsub("'", "", dpkg)),
    script = "tests/data/r/make_turn3.R"
  )
  write_out(sess, "_session")
}
cat("done\n")
