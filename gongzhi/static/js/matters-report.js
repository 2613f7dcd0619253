// "Use my current position" on the report form: fills latitude and longitude from the browser, then lets
// the similar-matters panel refresh. The form works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-locate]");
  if (!button || !navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((position) => {
    const latitude = document.getElementById("id_latitude");
    const longitude = document.getElementById("id_longitude");
    longitude.value = position.coords.longitude.toFixed(6);
    latitude.value = position.coords.latitude.toFixed(6);
    latitude.dispatchEvent(new Event("change", { bubbles: true }));
  });
});
